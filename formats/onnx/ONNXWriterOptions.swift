import AmalgamCore

/// Options of ONNX output.
public struct ONNXWriterOptions: WriterOptions {
    /// Write this model's graph with its initializers replaced (`--template BASE.onnx`).
    public var template: String?
    /// Keep tensor data in `OUT.data` beside the model.
    public var externalData = false
    /// Models larger than this get external data (protobuf's 2 GiB limit; tests lower it).
    public var inlineLimit = Int(Int32.max)
    /// Nodes for a weights-only output, so it runs (library use; not a command-line setting).
    public var computation: ONNXComputation?

    public init() {}

    public init(template: String? = nil, externalData: Bool = false, inlineLimit: Int = Int(Int32.max)) {
        self.template = template
        self.externalData = externalData
        self.inlineLimit = inlineLimit
    }

    public static let accepted: Set<OutputSetting> = [.template, .externalData]

    public init(_ settings: OutputSettings) {
        template = settings.template
        externalData = settings.externalData
    }
}
