import Amalgam

/// `amalgam convert IN OUT`: any readable format to any writable one.
struct ConvertCommand: Command {
    static let name = "convert"
    static let summary = "Convert a model to another format or dtype, streaming tensor by tensor."
    static let synopsis =
        "amalgam convert IN OUT [--to FORMAT] [--from FORMAT] [--dtype f32|f16|bf16] [--max-shard-size SIZE] [--compress] [--keep-dtype] [--quant TYPE] [--template BASE.onnx] [--external-data] [--force]"
    static let options: [OptionSpec] = [
        .option("to", "FORMAT", "Output format (default: from OUT's extension)."),
        .option("from", "FORMAT", "Input format (default: detected from IN's bytes, then extension)."),
        .option("dtype", "DTYPE", "Convert floating-point tensors to f32, f16 or bf16 (round to nearest even)."),
        .option("max-shard-size", "SIZE", "Split the output into shards of at most SIZE (e.g. 5GB, 500MB, 2GiB)."),
        .flag("compress", "npz output: deflate every member (as numpy.savez_compressed)."),
        .flag(
            "keep-dtype", "npz output: store bf16/float8 as raw bits plus __amalgam_dtypes__.json instead of float32."),
        .option(
            "quant", "TYPE",
            "GGUF output: quantise 2-D weights to q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, f16, bf16 or f32; 1-D tensors stay f32."
        ),
        .option(
            "template", "BASE.onnx",
            "ONNX output: write BASE.onnx's graph with its initializers replaced by IN's tensors (matched by canonical name)."
        ),
        .flag(
            "external-data",
            "ONNX output: keep tensor data in OUT.data beside OUT (automatic above protobuf's 2 GiB limit)."),
        .flag("force", "Overwrite existing outputs (inputs are never overwritten)."),
    ]
    static let discussion = """
        Outputs are written to temporary files and renamed into place only when complete, so a
        failed conversion leaves nothing behind. Integer tensors keep their dtype. GGUF to GGUF
        without --quant copies quantised blocks unchanged.

        examples:
          amalgam convert model.safetensors model-bf16.safetensors --dtype bf16
          amalgam convert model.safetensors out/ --max-shard-size 500MB
          amalgam convert model.safetensors weights.npz --compress
          amalgam convert flax_params.npz model.safetensors
          amalgam convert model.safetensors model-q8.gguf --quant q8_0
          amalgam convert model.Q4_1.gguf hf/model.safetensors --dtype f32   (also writes config.json, tokenizer.json)
        """

    let input: String
    let output: String
    let options: ConversionOptions

    init(_ arguments: ParsedArguments) throws(UsageError) {
        let paths = try arguments.positionals("IN", "OUT")
        input = paths[0]
        output = paths[1]
        var options = ConversionOptions(
            inputFormat: try arguments.value("from"), outputFormat: try arguments.value("to"),
            overwrite: arguments.flag("force"), progress: TerminalProgress(),
            warn: { Terminal.err("amalgam convert: warning: \($0)") })
        let output = try OutputArguments(arguments)
        options.dtype = output.dtype
        options.maximumShardBytes = output.maximumShardBytes
        options.writerOptions = output.writerOptions
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
    }
}
