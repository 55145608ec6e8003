import Amalgam

/// `amalgam convert IN OUT`: any readable format to any writable one.
struct ConvertCommand: Command {
    static let name = "convert"
    static let summary = "Convert a model to another format or dtype, streaming tensor by tensor."
    static let positionals = ["IN", "OUT"]
    static let settings: [Setting] = ModelOutput.settings + [.ggufArchitecture] + ConversionOptions.settings
    static let discussion = """
        Outputs are written to temporary files and renamed into place only when complete, so a
        failed conversion leaves nothing behind. Integer tensors keep their dtype. GGUF to GGUF
        without --quant copies quantised blocks unchanged. An OUT ending in '/' is a Hugging
        Face folder (model.safetensors, config.json, tokenizer files) unless --to says otherwise.

        examples:
          amalgam convert model.safetensors model-bf16.safetensors --dtype bf16
          amalgam convert model.safetensors sharded/ --max-shard-size 2MB
          amalgam convert model.safetensors weights.npz --compress
          amalgam convert model.safetensors model-q8.gguf --quant q8_0
          amalgam convert model.gguf hf/
        """

    let input: String
    let output: ModelOutput
    let options: ConversionOptions

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        let paths = try arguments.positionals(Self.positionals)
        input = paths[0]
        output = ModelOutput(path: paths[1], settings: ModelOutput.settings(from: arguments.values))
        var options = ConversionOptions(arguments.values)
        options.progress = TerminalProgress()
        options.warn = { Terminal.err("amalgam convert: warning: \($0)") }
        self.options = options
    }

    func run() throws {
        let start = Terminal.now()
        let result = try Amalgam.convert(input, to: output, options: options)
        let seconds = Terminal.now() - start
        Terminal.out(
            "converted \(input) (\(result.inputFormat)) to \(result.outputFormat): \(result.tensorCount) tensors, \(InspectionReport.grouped(result.parameterCount)) parameters in \(ByteSize.formatFixed(seconds, digits: 2)) s"
        )
        for file in result.files { Terminal.out("  wrote \(file)") }
        for comparison in result.verifications {
            let worst = comparison.tensors.max { $0.relativeFrobeniusError < $1.relativeFrobeniusError }
            Terminal.out(
                "  verified: \(comparison.tensors.count) tensors read back agree with the input"
                    + (worst.map {
                        $0.relativeFrobeniusError == 0
                            ? " exactly"
                            : " (largest relative Frobenius error \(DiffCommand.scientific($0.relativeFrobeniusError)), '\($0.name)')"
                    } ?? ""))
        }
    }
}
