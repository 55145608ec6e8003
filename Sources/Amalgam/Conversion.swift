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
        let verifications =
            options.verify
            ? try verifyWritten(planned, against: graph, in: outputs, registry: registry, read: options.read) : []
        try outputs.commit()
        return ConversionResult(
            inputFormat: reader.identifier, outputFormat: planned.items[0].writer.identifier, files: outputs.paths,
            tensorCount: graph.tensors.count, parameterCount: graph.parameterCount, verifications: verifications)
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

    /// Reads back the model files `planned` staged in `outputs` (before the commit, so a
    /// failure leaves nothing) and compares them with `source`, the reference, each tensor
    /// within the rounding its written encoding implies (`Tolerance.storing`). Tensors a
    /// writer leaves out by design (not in its plan's load order) are not expected back.
    static func verifyWritten(
        _ planned: PlannedOutputs, against source: ModelGraph, in outputs: OutputSet, registry: FormatRegistry,
        read: ReadOptions
    ) throws -> [ModelComparison] {
        try outputs.finishFiles()
        var comparisons: [ModelComparison] = []
        for item in planned.items {
            let reader = try registry.reader(named: item.writer.identifier, for: item.output.path)
            let modelFiles = item.plan.targets.filter { target in
                !target.hasSuffix(".index.json") && item.writer.fileExtensions.contains { target.hasSuffix("." + $0) }
            }
            var readBack = read
            for target in item.plan.targets { readBack.stagedFiles[target] = outputs.stagedPath(of: target) }
            var tensors: [Tensor] = []
            for target in modelFiles {
                guard let staged = outputs.stagedPath(of: target) else { continue }
                let graph = try AmalgamError.withContext(file: target) { try reader.load(staged, options: readBack) }
                tensors += graph.tensors
            }
            let written = try ModelGraph(tensors: tensors, sourceFormat: reader.identifier)
            let planned = Set(item.plan.loadOrder)
            let expected = try ModelGraph(
                tensors: source.tensors.enumerated().filter { planned.contains($0.offset) }.map(\.element),
                sourceFormat: source.sourceFormat)
            let comparison = ModelComparison(written, expected) { writtenTensor, sourceTensor in
                Tolerance.storing(sourceTensor.encoding, as: writtenTensor.encoding)
            }
            if let disagreement = comparison.disagreement {
                throw AmalgamError(
                    .mismatch, "verification failed: what was written differs from the input: \(disagreement)",
                    file: item.output.path)
            }
            comparisons.append(comparison)
        }
        return comparisons
    }

    /// The identities of those of `paths` that exist: inputs a run must never overwrite.
    static func identities(of paths: [String]) -> Set<FileIdentity> {
        Set(paths.compactMap(FileIdentity.of(path:)))
    }
}
