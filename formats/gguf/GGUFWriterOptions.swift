import AmalgamCore

/// Options of GGUF output.
public struct GGUFWriterOptions: WriterOptions {
    /// Quantise every tensor of two or more dimensions to this type (`q8_0`); nil keeps each
    /// tensor's encoding.
    public var quant: String?
    /// `general.architecture` to write when the model does not say (no GGUF metadata, no
    /// config.json `model_type`).
    public var architecture: String?
    /// llama-imatrix's importance matrix, used as the quantisation weights.
    public var importanceMatrix: String?

    public init() {}

    public init(quant: String? = nil, architecture: String? = nil, importanceMatrix: String? = nil) {
        self.quant = quant
        self.architecture = architecture
        self.importanceMatrix = importanceMatrix
    }

    public static let accepted: Set<OutputSetting> = [.quant, .architecture, .importanceMatrix]

    public init(_ settings: OutputSettings) throws(AmalgamError) {
        if let quant = settings.quant {
            guard GGUFQuantization.names.contains(quant.lowercased()) else {
                throw AmalgamError(
                    .usage,
                    "\(settings.label(.quant)) must be one of \(GGUFQuantization.names.joined(separator: ", ")), not '\(quant)'"
                )
            }
        }
        if settings.importanceMatrix != nil, settings.quant == nil {
            throw AmalgamError(
                .usage,
                "\(settings.label(.importanceMatrix)) weights quantisation, so it needs a quant type too")
        }
        quant = settings.quant?.lowercased()
        architecture = settings.architecture
        importanceMatrix = settings.importanceMatrix
    }
}
