/// `extract-lora`'s job (mergekit-extract-lora's): a fine-tune's difference from its base as
/// a LoRA adapter, from any readable formats.
public struct LoRAExtraction: Sendable {
    public var finetune: String
    public var base: String
    public var output: LoRAOutput
    public var parallelism = Parallelism.current
    public var noiseFloor = NoiseFloor.automatic
    public var report: String?
    public var overwrite = false
    public var warn: @Sendable (String) -> Void = { _ in }

    public init(finetune: String, base: String, output: LoRAOutput) {
        self.finetune = finetune
        self.base = base
        self.output = output
    }

    /// The same work as a merge: task arithmetic with lambda 1 of the one fine-tune (the
    /// merged update is its task vector), written only as an adapter.
    var mergeOptions: MergeOptions {
        var options = MergeOptions(
            base: base, sources: [finetune], method: TaskArithmeticMerge(lambda: 1), outputs: [])
        options.outputLoRA = output
        options.parallelism = parallelism
        options.noiseFloor = noiseFloor
        options.report = report
        options.overwrite = overwrite
        options.warn = warn
        return options
    }
}

extension Amalgam {
    /// Extracts `extraction.finetune - extraction.base` as a LoRA adapter: per merged matrix
    /// the exact SVD of the difference, truncated at the rank asked (energy kept per tensor in
    /// the outcome's report, under `lora_adapter`); changed tensors that are not matrices
    /// (norms, embeddings) are saved whole. All files appear together, or none does.
    public static func extractLoRA(_ extraction: LoRAExtraction, registry: FormatRegistry = Amalgam.builtInFormats)
        throws -> MergeOutcome
    {
        try merge(extraction.mergeOptions, registry: registry)
    }
}
