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
}

extension FormatReader {
    public func recognizesDirectory(_ path: String) -> Bool { false }

    /// Reads the model at `path`. Errors raised later, while a tensor's bytes are loaded (a
    /// CRC check, an inflate), name `path` too. The one entry point for reading.
    public func load(_ path: String, options: ReadOptions = ReadOptions()) throws -> ModelGraph {
        try read(path, options: options).attributingLoadErrors(to: path)
    }
}
