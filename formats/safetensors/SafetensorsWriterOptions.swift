import AmalgamCore

/// Options of safetensors output.
public struct SafetensorsWriterOptions: WriterOptions {
    /// Split the output into files of at most this many bytes of tensor data; nil writes one.
    public var maximumShardBytes: Int?

    public init() {}

    public init(maximumShardBytes: Int?) { self.maximumShardBytes = maximumShardBytes }

    public static let accepted: Set<OutputSetting> = [.maximumShardSize]

    public init(_ settings: OutputSettings) { maximumShardBytes = settings.maximumShardBytes }
}
