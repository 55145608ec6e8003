import Amalgam

/// `amalgam extract-lora FINETUNE --base BASE --rank R --output DIR`.
struct ExtractLoRACommand: Command {
    static let name = "extract-lora"
    static let summary = "Extract a fine-tune's difference from its base as a LoRA adapter (PEFT folder or GGUF)."
    static let positionals = ["FINETUNE"]
    static let requiredSettings: [Setting] = [.base, .extractionRank, .adapterOutput]
    static let settings: [Setting] = [
        .base, .extractionRank, .adapterOutput, .ggufArchitecture, .report, .noiseFloor, .threads, .force,
    ]
    static let discussion = """
        Each matrix's difference W - W0 is decomposed exactly (SVD) and cut at rank R: lora_B = U sqrt(S),
        lora_A = sqrt(S) V^T, so the adapter's scale is 1. The energy each tensor keeps is printed
        (least) and recorded in --report. Norms, biases and embeddings the fine-tune changed are saved
        whole (PEFT's modules_to_save); a GGUF adapter cannot hold them and is refused then.

        examples:
          amalgam extract-lora a.safetensors --base base.safetensors --rank 2 --output adapter/
          amalgam extract-lora b.npz --base base.safetensors --rank 4 --output adapter-b/ --report extraction.json
        """

    let extraction: LoRAExtraction

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        let finetune = try arguments.positionals(Self.positionals)[0]
        let values = arguments.values
        var extraction = LoRAExtraction(
            finetune: finetune, base: try values.required(.base),
            output: LoRAOutput(
                path: try values.required(.adapterOutput), rank: values.integer(.extractionRank),
                architecture: values.text(.ggufArchitecture)))
        guard values.integer(.extractionRank) != nil else {
            throw AmalgamError(.usage, "missing \(Setting.extractionRank.synopsis)")
        }
        extraction.report = values.text(.report)
        if let text = values.text(.noiseFloor) {
            extraction.noiseFloor = try NoiseFloor(parsing: text, label: values.label(.noiseFloor))
        }
        extraction.parallelism = Parallelism(threads: values.integer(.threads) ?? Parallelism.current.threads)
        extraction.overwrite = values.flag(.force)
        extraction.warn = { Terminal.err("amalgam extract-lora: \($0)") }
        self.extraction = extraction
    }

    func run() throws {
        let outcome = try Amalgam.extractLoRA(extraction)
        for file in outcome.files { Terminal.out("wrote \(file)") }
    }
}
