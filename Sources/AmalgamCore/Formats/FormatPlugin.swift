/// What a format plugin can do.
public struct FormatCapabilities: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let read = FormatCapabilities(rawValue: 1 << 0)
    public static let write = FormatCapabilities(rawValue: 1 << 1)
    /// Reads and writes a model split over several files.
    public static let sharding = FormatCapabilities(rawValue: 1 << 2)
    /// Reads or writes block-quantised encodings.
    public static let quantization = FormatCapabilities(rawValue: 1 << 3)
}

/// Options every reader understands.
public struct ReadOptions: Sendable {
    public var progress: any ProgressReporter
    /// Plugin-specific options by name (`template`, ...), as given on the command line.
    public var extra: [String: String]

    public init(progress: any ProgressReporter = SilentProgress(), extra: [String: String] = [:]) {
        self.progress = progress
        self.extra = extra
    }
}

/// Options every writer understands.
public struct WriteOptions: Sendable {
    /// Replace existing outputs (`--force`).
    public var overwrite: Bool
    /// Split the output into files of at most this many bytes of tensor data, where the
    /// format supports it; nil writes one file.
    public var maximumShardBytes: Int?
    /// Inputs that must never be overwritten.
    public var protectedInputs: Set<FileIdentity>
    public var progress: any ProgressReporter
    /// Plugin-specific options by name (`compress`, `keep-dtype`...); a plugin lists the
    /// ones it understands in `writeOptionNames`.
    public var extra: [String: String]
    /// Receives one line per lossy or surprising choice the writer makes (a dtype the format
    /// cannot store, converted instead).
    public var warn: @Sendable (String) -> Void
    /// Called once every tensor is written, just before the outputs are renamed into place;
    /// throwing abandons them. For checks that need the whole stream (a merge's sources).
    public var validateBeforeCommit: @Sendable () throws -> Void

    public init(
        overwrite: Bool = false, maximumShardBytes: Int? = nil, protectedInputs: Set<FileIdentity> = [],
        progress: any ProgressReporter = SilentProgress(), extra: [String: String] = [:],
        warn: @escaping @Sendable (String) -> Void = { _ in },
        validateBeforeCommit: @escaping @Sendable () throws -> Void = {}
    ) {
        self.validateBeforeCommit = validateBeforeCommit
        self.overwrite = overwrite
        self.maximumShardBytes = maximumShardBytes
        self.protectedInputs = protectedInputs
        self.progress = progress
        self.extra = extra
        self.warn = warn
    }
}

/// A file format Amalgam reads and/or writes. Plugins are values registered with a
/// `FormatRegistry`; they hold no per-file state, so one instance serves every thread.
///
/// Contract:
/// - `read` validates everything it relies on and throws `AmalgamError` (code
///   `.invalidFormat`, `.unsupported` or `.overflow`, with file, tensor and offset) for
///   bad input; it never crashes on any bytes, never opens the input for writing, and
///   should expose tensor bytes as memory-mapped slices where the layout allows.
/// - `write` streams tensor by tensor (loading each tensor's storage once) and produces
///   its files through an `OutputTransaction`, so a failure leaves no output behind; it
///   calls `options.validateBeforeCommit()` right before committing.
public protocol FormatPlugin: Sendable {
    /// Short lowercase name used by `--from`/`--to` (`safetensors`).
    var identifier: String { get }
    /// Human name (`safetensors`, `GGUF`).
    var displayName: String { get }
    /// Extensions without the dot, lowercase (`safetensors`).
    var fileExtensions: [String] { get }
    var capabilities: FormatCapabilities { get }
    /// Names of the `WriteOptions.extra` options this writer understands (`compress`).
    var writeOptionNames: [String] { get }
    /// True when the first bytes of a file (up to 64, fewer for short files) are this
    /// format's signature.
    func sniff(_ prefix: [UInt8]) -> Bool
    /// True when the folder at `path` holds a model in this format (e.g. a sharded index).
    func recognizesDirectory(_ path: String) -> Bool
    func read(_ path: String, options: ReadOptions) throws -> ModelGraph
    /// The order in which `write` will load `graph`'s tensors (indices into
    /// `graph.tensors`), so producers of deferred tensors can compute ahead in that order.
    /// Default: graph order.
    func loadOrder(of graph: ModelGraph, options: WriteOptions) -> [Int]
    /// Writes `graph` and returns the paths it created.
    @discardableResult
    func write(_ graph: ModelGraph, to path: String, options: WriteOptions) throws -> [String]
}

extension FormatPlugin {
    public var writeOptionNames: [String] { [] }

    public func loadOrder(of graph: ModelGraph, options: WriteOptions) -> [Int] { Array(graph.tensors.indices) }

    /// `read`, with errors raised later, while a tensor's bytes are loaded (a CRC check, an
    /// inflate), attributed to `path`. What callers should use; plugins implement `read`.
    public func load(_ path: String, options: ReadOptions = ReadOptions()) throws -> ModelGraph {
        try read(path, options: options).attributingLoadErrors(to: path)
    }

    /// Throws `.usage` for the first of `names` this writer does not list in `writeOptionNames`.
    public func checkWriteOptions(_ names: some Sequence<String>) throws(AmalgamError) {
        for name in names.sorted() where !writeOptionNames.contains(name) {
            throw AmalgamError(.usage, "--\(name) does not apply to \(displayName) output")
        }
    }

    public func recognizesDirectory(_ path: String) -> Bool { false }

    public func read(_ path: String, options: ReadOptions) throws -> ModelGraph {
        throw AmalgamError(.unsupported, "\(displayName) files cannot be read", file: path)
    }

    @discardableResult
    public func write(_ graph: ModelGraph, to path: String, options: WriteOptions) throws -> [String] {
        throw AmalgamError(.unsupported, "\(displayName) files cannot be written", file: path)
    }
}
