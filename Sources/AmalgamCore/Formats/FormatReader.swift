/// The reading direction of a format.
///
/// Contract:
/// - `read` validates everything it relies on and throws `AmalgamError` (code
///   `.invalidFormat`, `.unsupported` or `.overflow`, with file, tensor and offset) for
///   bad input; it never crashes on any bytes, never opens the input for writing, and
///   exposes tensor bytes as memory-mapped slices where the layout allows.
/// - Callers use `load`, which also attributes errors raised later, while a lazily loaded
///   tensor's bytes are read, to the file.
public protocol FormatReader: FormatPlugin {
    /// True when the first bytes of a file (up to 64, fewer for short files) are this
    /// format's signature.
    func sniff(_ prefix: [UInt8]) -> Bool
    /// True when the folder at `path` holds a model in this format (a sharded index, a
    /// Hugging Face folder). Default: false.
    func recognizesDirectory(_ path: String) -> Bool
    /// The plugin's implementation of reading; call `load` instead.
    func read(_ path: String, options: ReadOptions) throws -> ModelGraph
    /// Checks the structure of the file at `path` against every rule of the format and
    /// lists all faults where parsing can go on past one (the first fatal one ends the
    /// list). Tensor bytes are not loaded. Default: the first error of `load`, if any.
    func audit(_ path: String, options: ReadOptions, strict: Bool) -> FileAudit
    /// The size of the whole file as its first bytes state it (`prefix`), for reading a
    /// zstd-compressed copy: a frame that declares or produces more is refused. Nil when the
    /// format's header does not state it (such files are not read compressed). Default: nil.
    func impliedSize(ofPrefix prefix: ByteRegion) throws(AmalgamError) -> Zstd.ImpliedSize?
}

extension FormatReader {
    public func recognizesDirectory(_ path: String) -> Bool { false }

    public func impliedSize(ofPrefix prefix: ByteRegion) throws(AmalgamError) -> Zstd.ImpliedSize? { nil }

    public func audit(_ path: String, options: ReadOptions, strict: Bool) -> FileAudit {
        defaultAudit(path, options: options)
    }

    /// The first error of `load`, if any: the audit of a format without its own.
    public func defaultAudit(_ path: String, options: ReadOptions) -> FileAudit {
        do {
            _ = try load(path, options: options)
            return FileAudit()
        } catch {
            return FileAudit(faults: [AmalgamError.attributed(error, file: path)])
        }
    }

    /// Reads the model at `path`. Errors raised later, while a tensor's bytes are loaded (a
    /// CRC check, an inflate), name `path` too. The one entry point for reading.
    public func load(_ path: String, options: ReadOptions = ReadOptions()) throws -> ModelGraph {
        try read(path, options: options).attributingLoadErrors(to: path)
    }
}
