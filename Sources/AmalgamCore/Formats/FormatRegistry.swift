#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The set of known format plugins and the rules for picking one:
/// an explicit `--from`/`--to` wins; otherwise for reading, a folder asks each plugin
/// whether it recognises it, and a file is sniffed by its magic bytes first and its
/// extension second; for writing, the extension decides.
public struct FormatRegistry: Sendable {
    public private(set) var plugins: [any FormatPlugin] = []

    public init(_ plugins: [any FormatPlugin] = []) {
        for plugin in plugins { register(plugin) }
    }

    /// Adds a plugin; a later plugin with the same identifier replaces the earlier one.
    public mutating func register(_ plugin: any FormatPlugin) {
        plugins.removeAll { $0.identifier == plugin.identifier }
        plugins.append(plugin)
    }

    private var identifiers: String { plugins.map(\.identifier).joined(separator: ", ") }

    /// The plugin named `identifier` (case-insensitive).
    public func plugin(named identifier: String) throws(AmalgamError) -> any FormatPlugin {
        guard let plugin = plugins.first(where: { $0.identifier == identifier.lowercased() }) else {
            throw AmalgamError(.usage, "unknown format '\(identifier)' (known: \(identifiers))")
        }
        return plugin
    }

    /// Picks the plugin to read `path`.
    public func readerPlugin(for path: String, explicit: String? = nil) throws(AmalgamError) -> any FormatPlugin {
        if let explicit {
            let plugin = try plugin(named: explicit)
            guard plugin.capabilities.contains(.read) else {
                throw AmalgamError(.unsupported, "\(plugin.displayName) files cannot be read", file: path)
            }
            return plugin
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw AmalgamError(.notFound, "no such file or folder", file: path)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            if let plugin = plugins.first(where: { $0.capabilities.contains(.read) && $0.recognizesDirectory(path) }) {
                return plugin
            }
            throw AmalgamError(
                .notFound, "folder holds no model Amalgam recognises (looked for: \(identifiers))", file: path)
        }
        let prefix = FormatRegistry.readPrefix(path, count: 64)
        if let plugin = plugins.first(where: { $0.capabilities.contains(.read) && $0.sniff(prefix) }) {
            return plugin
        }
        if let plugin = pluginByExtension(path), plugin.capabilities.contains(.read) {
            return plugin
        }
        throw AmalgamError(
            .notFound,
            "cannot tell the format (no known signature or extension); name it with --from FORMAT (one of \(identifiers))",
            file: path)
    }

    /// Picks the plugin for `path` (see `readerPlugin`) and reads it. Errors raised later,
    /// while a tensor's bytes are loaded (a CRC check, an inflate), name `path`.
    public func read(_ path: String, explicit: String? = nil, options: ReadOptions = ReadOptions()) throws -> (
        plugin: any FormatPlugin, graph: ModelGraph
    ) {
        let plugin = try readerPlugin(for: path, explicit: explicit)
        return (plugin, try plugin.load(path, options: options))
    }

    /// Picks the plugin to write `path`.
    public func writerPlugin(for path: String, explicit: String? = nil) throws(AmalgamError) -> any FormatPlugin {
        let plugin: any FormatPlugin
        if let explicit {
            plugin = try self.plugin(named: explicit)
        } else if let byExtension = pluginByExtension(path) {
            plugin = byExtension
        } else {
            throw AmalgamError(
                .usage, "cannot tell the output format from the file name; add --to FORMAT (one of \(identifiers))",
                file: path)
        }
        guard plugin.capabilities.contains(.write) else {
            throw AmalgamError(.unsupported, "\(plugin.displayName) files cannot be written", file: path)
        }
        return plugin
    }

    private func pluginByExtension(_ path: String) -> (any FormatPlugin)? {
        // Longest extension wins, so `x.safetensors.index.json` is not just `.json`.
        let name = FileSystem.baseName(of: path).lowercased()
        var best: (plugin: any FormatPlugin, length: Int)?
        for plugin in plugins {
            for ext in plugin.fileExtensions where name.hasSuffix("." + ext) && ext.count > (best?.length ?? 0) {
                best = (plugin, ext.count)
            }
        }
        return best?.plugin
    }

    /// Up to `count` leading bytes of a file (fewer for short or unreadable files).
    static func readPrefix(_ path: String, count: Int) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return [] }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, count) }
        return Array(bytes.prefix(max(got, 0)))
    }
}
