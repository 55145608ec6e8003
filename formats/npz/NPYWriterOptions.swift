import AmalgamCore

/// `.npy` output takes no options.
public struct NPYWriterOptions: WriterOptions {
    public init() {}
    public static let accepted: Set<OutputSetting> = []
    public init(_ settings: OutputSettings) {}
}
