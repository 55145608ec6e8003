extension Amalgam {
    /// Reads `input` (any readable format) and writes it as `output`, streaming tensor by
    /// tensor. Nothing is created under an output name unless the whole conversion succeeds.
    public static func convert(
        _ input: String, to output: ModelOutput, options: ConversionOptions = ConversionOptions(),
        registry: FormatRegistry = Amalgam.builtInFormats
    ) throws -> ConversionResult {
        let (reader, graph) = try registry.read(input, explicit: options.inputFormat, options: options.read)
        let outputs = OutputSet(
            overwrite: options.overwrite, protecting: graph.sourceFileIdentities.union(identities(of: [input])),
            warn: options.warn)
        let planned = try PlannedOutputs([output], graph: graph, into: outputs, registry: registry)
        for note in graph.notes { options.warn("\(input): \(note)") }
        for line in planned.warnings { options.warn(line) }
        try planned.write(graph, into: outputs, progress: options.progress)
        try outputs.commit()
        return ConversionResult(
            inputFormat: reader.identifier, outputFormat: planned.items[0].writer.identifier, files: outputs.paths,
            tensorCount: graph.tensors.count, parameterCount: graph.parameterCount)
    }

    /// `convert` to a file of the format its name implies, with `dtype` for floating-point tensors.
    public static func convert(
        _ input: String, to output: String, dtype: DType? = nil, options: ConversionOptions = ConversionOptions(),
        registry: FormatRegistry = Amalgam.builtInFormats
    ) throws -> ConversionResult {
        try convert(
            input, to: ModelOutput(path: output, settings: OutputSettings(dtype: dtype)), options: options,
            registry: registry)
    }

    /// The identities of those of `paths` that exist: inputs a run must never overwrite.
    static func identities(of paths: [String]) -> Set<FileIdentity> {
        Set(paths.compactMap(FileIdentity.of(path:)))
    }
}
