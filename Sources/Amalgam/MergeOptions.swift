@_exported import MergeKernel
import SafetensorsFormat

/// Everything `amalgam merge` and recipes choose.
public struct MergeOptions: Sendable {
    public var base: String
    public var sources: [String]
    public var method: any MergeMethod
    public var outputs: [ModelOutput]
    /// safetensors file for the factors of every merged matrix (`<name>.U`, `.S`, `.V`).
    public var factors: String?
    /// JSON report path.
    public var report: String?
    /// The report as an HTML page (`--report-html`).
    public var reportHTML: String?
    /// The merged update as a LoRA adapter (`--output-lora`, `--lora-rank`).
    public var outputLoRA: LoRAOutput?
    /// Per-tensor parameters of mergekit's methods (`--param`, a mergekit configuration's
    /// `parameters`), per model and for the merge.
    public var parameters = MergeParameters()
    /// For methods whose inputs include the base (linear, karcher): its place among them.
    public var baseInputPosition: Int? = nil
    /// mergekit's `slices`: the output's layers stacked from layer ranges of the models (the
    /// base and sources are then the stacks, built by `planMerge`).
    public var slices: [LayerSlice]? = nil
    /// mergekit's `tokenizer_source`: merge models whose vocabularies differ in the output
    /// vocabulary it names (nil: every model must have the base's).
    public var tokenizerSource: TokenizerSource? = nil
    public var skip: [NamePattern] = []
    /// Tensors left out of the merged model (the sources' task heads).
    public var leaveOut: [NamePattern] = []
    public var allowMissing = false
    public var seed: UInt64 = 0
    /// Components and entries of quantised sources below their rounding noise are dropped.
    public var noiseFloor = NoiseFloor.automatic
    public var parallelism = Parallelism.current
    public var read = ReadOptions()
    public var overwrite = false
    public var progress: any ProgressReporter = SilentProgress()
    public var warn: @Sendable (String) -> Void = { _ in }

    public init(base: String, sources: [String], method: any MergeMethod, outputs: [ModelOutput]) {
        self.base = base
        self.sources = sources
        self.method = method
        self.outputs = outputs
    }

    /// The files a merge writes besides its model outputs: factors, report, HTML report.
    var extraFiles: [String] { [factors, report, reportHTML].compactMap { $0 } + (outputLoRA?.files ?? []) }

    /// The settings of a merge besides its method options and outputs.
    public static let settings: [Setting] = [
        .base, .source, .method, .outputLoRA, .loraRank, .factors, .report, .reportHTML, .seed, .noiseFloor, .threads,
        .skip, .leaveOut,
        .allowMissing,
        .keepConstants, .force,
    ]

    /// Reads a merge from `values` (the command line, or a recipe's top level), its method's
    /// options from `methodOptions` (the same values on the command line, a recipe's
    /// `options`), with `outputs` already read.
    public init(_ values: SettingValues, methodOptions: SettingValues, outputs: [ModelOutput]) throws(AmalgamError) {
        let base = try values.required(.base)
        let sources = values.texts(.source)
        guard !sources.isEmpty else {
            let named =
                values.label(.source).hasPrefix("--")
                ? "--source (give one per fine-tuned model)" : "'\(values.label(.source))'"
            throw AmalgamError(.usage, "missing \(named)")
        }
        let methodName = values.text(.method) ?? "axis"
        let method = try MergeMethods.make(methodName, options: methodOptions, sourceCount: sources.count)
        self.init(base: base, sources: sources, method: method, outputs: outputs)
        for text in methodOptions.texts(.parameter) {
            let (name, setting) = try MergeMethods.parameter(text, label: methodOptions.label(.parameter))
            parameters.shared[name] = setting
        }
        try MergeMethods.checkParameters(Array(parameters.shared.keys).sorted(), of: method) {
            "\(methodOptions.label(.parameter)) \($0)"
        }
        try MergekitConfiguration.checkRequired(
            parameters, method: method, sourceLabels: sources, baseLabel: base,
            where: "\(methodOptions.label(.parameter))")
        try apply(values)
    }

    /// A merge by `method` of `sources` into `base`, its other settings from `values`.
    public init(
        _ values: SettingValues, base: String, sources: [String], method: any MergeMethod, outputs: [ModelOutput]
    ) throws(AmalgamError) {
        self.init(base: base, sources: sources, method: method, outputs: outputs)
        try apply(values)
    }

    /// The settings besides inputs, method and outputs.
    private mutating func apply(_ values: SettingValues) throws(AmalgamError) {
        factors = values.text(.factors)
        report = values.text(.report)
        reportHTML = values.text(.reportHTML)
        if let path = values.text(.outputLoRA) {
            outputLoRA = LoRAOutput(
                path: path, rank: values.integer(.loraRank), architecture: values.text(.ggufArchitecture))
        } else if values.integer(.loraRank) != nil {
            throw AmalgamError(.usage, "\(values.label(.loraRank)) applies to \(values.label(.outputLoRA))")
        }
        skip = values.texts(.skip).map(NamePattern.init)
        if !skip.isEmpty, !MergeMethods.svdMethods.contains(method.name) {
            throw AmalgamError(
                .usage,
                "\(values.label(.skip)) applies to the SVD methods (\(MergeMethods.svdMethods.sorted().joined(separator: ", "))); \(method.name) merges every tensor the same way"
            )
        }
        leaveOut = values.texts(.leaveOut).map(NamePattern.init)
        allowMissing = values.flag(.allowMissing)
        seed = values.seed(.seed) ?? 0
        if let text = values.text(.noiseFloor) {
            noiseFloor = try NoiseFloor(parsing: text, label: values.label(.noiseFloor))
        }
        parallelism = Parallelism(threads: values.integer(.threads) ?? Parallelism.current.threads)
        read.keepConstants = values.flag(.keepConstants)
        overwrite = values.flag(.force)
    }
}
