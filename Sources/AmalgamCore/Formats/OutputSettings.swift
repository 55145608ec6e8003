/// Typed output settings, decoded once from the command line or a recipe. The dtype and the
/// format apply to every output; the rest are for the writers that take them
/// (`WriterOptions.accepted`), and a writer refuses one it does not take.
public struct OutputSettings: Sendable, Hashable {
    /// Format identifier (`--to`); nil uses the output's name.
    public var format: String?
    /// Convert floating-point tensors to this dtype before writing; nil keeps them.
    public var dtype: DType?
    public var maximumShardBytes: Int?
    public var compress = false
    public var keepDType = false
    /// Lowercase quantisation type name (`q8_0`).
    public var quant: String?
    /// An importance matrix (llama-imatrix's) to weight the quantisation by.
    public var importanceMatrix: String?
    public var template: String?
    public var externalData = false
    /// The architecture to record (GGUF's `general.architecture`).
    public var architecture: String?
    /// Compress the written file with zstd at this level (`--zstd`); not a writer's setting:
    /// the finished file is compressed when its command commits.
    public var zstdLevel: Int?
    /// How the user spelled each setting (`--quant`, `outputs[1].quant`), for messages.
    public var labels: [OutputSetting: String] = [:]

    public init(
        format: String? = nil, dtype: DType? = nil, maximumShardBytes: Int? = nil, compress: Bool = false,
        keepDType: Bool = false, quant: String? = nil, template: String? = nil, externalData: Bool = false,
        architecture: String? = nil, importanceMatrix: String? = nil
    ) {
        self.format = format
        self.dtype = dtype
        self.maximumShardBytes = maximumShardBytes
        self.compress = compress
        self.keepDType = keepDType
        self.quant = quant
        self.template = template
        self.externalData = externalData
        self.architecture = architecture
        self.importanceMatrix = importanceMatrix
    }

    /// The settings given (not at their defaults), besides format and dtype.
    public var given: [OutputSetting] {
        OutputSetting.allCases.filter { setting in
            switch setting {
            case .maximumShardSize: maximumShardBytes != nil
            case .compress: compress
            case .keepDType: keepDType
            case .quant: quant != nil
            case .importanceMatrix: importanceMatrix != nil
            case .template: template != nil
            case .externalData: externalData
            case .architecture: architecture != nil
            }
        }
    }

    /// How the user named `setting`: its label, or the command-line flag.
    public func label(_ setting: OutputSetting) -> String { labels[setting] ?? "--" + setting.rawValue }
}
