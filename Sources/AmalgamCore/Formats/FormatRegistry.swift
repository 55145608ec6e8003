/// The set of known format plugins and the rules for picking one:
/// an explicit `--from`/`--to` wins; otherwise for reading, a folder asks each reader
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

    public var readers: [any FormatReader] { plugins.compactMap { $0 as? any FormatReader } }
    public var writers: [any FormatWriter] { plugins.compactMap { $0 as? any FormatWriter } }

    private var identifiers: String { plugins.map(\.identifier).joined(separator: ", ") }

    /// The plugin named `identifier` (case-insensitive).
    public func plugin(named identifier: String) throws(AmalgamError) -> any FormatPlugin {
        guard let plugin = plugins.first(where: { $0.identifier == identifier.lowercased() }) else {
            throw AmalgamError(.usage, "unknown format '\(identifier)' (known: \(identifiers))")
        }
        return plugin
    }

    /// The reader named `identifier`.
    public func reader(named identifier: String, for path: String? = nil) throws(AmalgamError) -> any FormatReader {
        let plugin = try plugin(named: identifier)
        guard let reader = plugin as? any FormatReader else {
            throw AmalgamError(.unsupported, "\(plugin.displayName) files cannot be read", file: path)
        }
        return reader
    }

    /// The writer named `identifier`.
    public func writer(named identifier: String, for path: String? = nil) throws(AmalgamError) -> any FormatWriter {
        let plugin = try plugin(named: identifier)
        guard let writer = plugin as? any FormatWriter else {
            throw AmalgamError(.unsupported, "\(plugin.displayName) files cannot be written", file: path)
        }
        return writer
    }

    /// Picks the reader for `path`.
    public func reader(for path: String, explicit: String? = nil) throws(AmalgamError) -> any FormatReader {
        if let explicit { return try reader(named: explicit, for: path) }
        let status: FileStatus?
        do { status = try SystemCall.status(of: path) } catch {
            throw AmalgamError("cannot stat", file: path, errno: error)
        }
        guard let status else { throw AmalgamError(.notFound, "no such file or folder", file: path) }
        if status.kind == .directory {
            if let reader = readers.first(where: { $0.recognizesDirectory(path) }) { return reader }
            throw AmalgamError(
                .notFound, "folder holds no model Amalgam recognises (looked for: \(identifiers))", file: path)
        }
        let prefix = SystemCall.readPrefix(of: path, count: 64)
        if Zstd.isFrame(prefix) {
            // A compressed model: the format inside is the name's without `.zst`.
            let inner = CompressedInput.innerName(of: path)
            if inner != path, let reader = pluginByExtension(inner) as? any FormatReader { return reader }
            throw AmalgamError(
                .notFound,
                "zstd-compressed, and the name without .zst does not tell the format inside; name it like model.safetensors.zst or give --from FORMAT",
                file: path)
        }
        if let reader = readers.first(where: { $0.sniff(prefix) }) { return reader }
        if let reader = pluginByExtension(path) as? any FormatReader { return reader }
        throw AmalgamError(
            .notFound,
            "cannot tell the format (no known signature or extension); name it with --from FORMAT (one of \(identifiers))",
            file: path)
    }

    /// Picks the reader for `path` (see `reader(for:explicit:)`) and loads it.
    public func read(
        _ path: String, explicit: String? = nil, options: ReadOptions = ReadOptions()
    ) throws -> (reader: any FormatReader, graph: ModelGraph) {
        let reader = try reader(for: path, explicit: explicit)
        if !FileSystem.isFolder(path), Zstd.isFrame(SystemCall.readPrefix(of: path, count: 4)) {
            return (reader, try CompressedInput.read(path, reader: reader, options: options))
        }
        return (reader, try reader.load(path, options: options))
    }

    /// Picks the writer for `path`: `explicit`, else the extension.
    public func writer(for path: String, explicit: String? = nil) throws(AmalgamError) -> any FormatWriter {
        if let explicit { return try writer(named: explicit, for: path) }
        guard let plugin = pluginByExtension(path) else {
            throw AmalgamError(
                .usage,
                "cannot tell the output format from the file name; add --to FORMAT (one of \(writers.map(\.identifier).joined(separator: ", ")))",
                file: path)
        }
        return try writer(named: plugin.identifier, for: path)
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
}
