/// A file format Amalgam knows: its names and file extensions. What it can do follows from
/// the protocols it conforms to: `FormatReader` reads, `FormatWriter` writes. Plugins are
/// values registered with a `FormatRegistry`; they hold no per-file state, so one instance
/// serves every thread.
public protocol FormatPlugin: Sendable {
    /// Short lowercase name used by `--from`/`--to` (`safetensors`).
    var identifier: String { get }
    /// Human name (`safetensors`, `GGUF`).
    var displayName: String { get }
    /// Extensions without the dot, lowercase (`safetensors`).
    var fileExtensions: [String] { get }
}
