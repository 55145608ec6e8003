@_exported import MergeKernel
import Reports
import SafetensorsFormat

extension Amalgam {
    /// Reads the base and sources (headers only) and plans the merge.
    public static func planMerge(
        _ options: MergeOptions, registry: FormatRegistry = Amalgam.builtInFormats, wantsFactors: Bool = false
    ) throws -> (MergeRequest, MergePlan) {
        func load(_ path: String) throws -> ModelGraph { try registry.read(path, options: options.read).graph }
        if let slices = options.slices {
            var request = try slicedRequest(options, slices: slices, load: load)
            request.wantsFactors = wantsFactors
            return (request, try MergePlan.make(request))
        }
        var base = try load(options.base)
        var sources: [ModelGraph] = []
        var factoredSources: [(any FactoredTaskVectorSource)?] = []
        for path in options.sources {
            // A LoRA adapter is the base plus its low-rank updates.
            if let adapter = try readAdapter(path, base: base, registry: registry) {
                let (graph, factors) = try AdapterSource.make(adapter, base: base)
                sources.append(graph)
                factoredSources.append(factors)
            } else {
                sources.append(try load(path))
                factoredSources.append(nil)
            }
        }
        if let tokenizerSource = options.tokenizerSource {
            guard !factoredSources.contains(where: { $0 != nil }) else {
                throw AmalgamError(
                    .usage, "tokenizer_source does not apply to LoRA adapter sources (they share the base's vocabulary)"
                )
            }
            let aligned = try VocabularyAlignment.align(
                [base] + sources, labels: [options.base] + options.sources, source: tokenizerSource,
                hasBase: !options.method.baseIsInput)
            base = aligned[0]
            sources = Array(aligned.dropFirst())
        }
        var request = MergeRequest(
            base: base, baseLabel: options.base, sources: sources,
            sourceLabels: options.sources, method: options.method, skip: options.skip,
            allowMissing: options.allowMissing, seed: options.seed, parallelism: options.parallelism)
        if factoredSources.contains(where: { $0 != nil }) { request.factoredSources = factoredSources }
        request.leaveOut = options.leaveOut
        request.wantsFactors = wantsFactors
        request.wantsSpectra = options.report != nil || options.reportHTML != nil
        request.noiseFloor = options.noiseFloor
        request.parameters = options.parameters
        request.baseInputPosition = options.baseInputPosition
        return (request, try MergePlan.make(request))
    }

    /// mergekit's passthrough: the stack of the slices' layers written as it is.
    static func passthrough(_ options: MergeOptions, into outputs: OutputSet, registry: FormatRegistry) throws
        -> MergeStage
    {
        guard let slices = options.slices else {
            throw AmalgamError(.usage, "passthrough stacks layer slices: give 'slices', each with one source")
        }
        if let index = slices.firstIndex(where: { $0.sources.count != 1 }) {
            throw AmalgamError(
                .usage, "passthrough takes one source per slice; slices[\(index)] has \(slices[index].sources.count)")
        }
        if options.factors != nil || options.outputLoRA != nil {
            throw AmalgamError(.usage, "passthrough merges nothing: it has no factors and no LoRA update")
        }
        let request = try slicedRequest(
            options, slices: slices, load: { try registry.read($0, options: options.read).graph })
        // mergekit's per-model `scale` multiplies tensors (0 for o_proj and down_proj when duplicating layers).
        let scale = ParameterSpec("scale", .input, default: .number(1))
        let graph = try request.base.mapTensors { tensor in
            let (parameters, t) = request.parameters(forTensor: tensor.name, layerCount: 0)
            let factor = try parameters.resolve(scale, own: parameters.base, tensor: tensor.name, t: t, model: "")
            guard let value = factor.number, value != 1 else { return tensor }
            return try Self.scaled(tensor, by: Float(value))
        }
        let plan = MergePlan.passthrough(graph)
        let planned = try PlannedOutputs(options.outputs, graph: graph, into: outputs, registry: registry)
        for extra in options.extraFiles { try outputs.reserve(extra) }
        for line in planned.warnings { options.warn(line) }
        try planned.write(
            graph, into: outputs, progress: options.progress,
            label: "stacking \(graph.tensors.count) tensors (passthrough)")
        let report = JSONValue.object([
            ("schema", .string("amalgam.merge-report/1")), ("method", .string("passthrough")),
            (
                "slices",
                .array(
                    slices.map { slice in
                        .object([
                            ("model", .string(slice.sources[0].model)),
                            (
                                "layer_range",
                                .array([
                                    .integer(slice.sources[0].layers.lowerBound),
                                    .integer(slice.sources[0].layers.upperBound),
                                ])
                            ),
                        ])
                    })
            ),
            ("tensors", .array(plan.entries.map { .object([("name", .string($0.name)), ("kind", .string("copy"))]) })),
        ])
        if let path = options.report { try outputs.create(path).write(report.serialized(pretty: true) + "\n") }
        if options.reportHTML != nil { throw AmalgamError(.usage, "passthrough has no report page to draw") }
        return MergeStage(
            outcome: MergeOutcome(plan: plan, files: outputs.paths, report: report), factors: FactorSet(), graph: nil)
    }

    /// `tensor` times `factor`, computed when it is loaded, in its dtype (f32 if quantised).
    static func scaled(_ tensor: Tensor, by factor: Float) throws -> Tensor {
        guard let dtype = tensor.encoding.dtype ?? .some(.f32), dtype.isFloatingPoint else {
            throw AmalgamError(.usage, "passthrough's scale applies to floating-point tensors", tensor: tensor.name)
        }
        let source = tensor
        return Tensor(
            name: tensor.name, originalName: tensor.originalName, shape: tensor.shape, encoding: .plain(dtype),
            storage: .deferred {
                ElementConversion.region(try source.floatValues().map { $0 * factor }, as: dtype)
            })
    }

    /// A merge of layer slices as a merge of stacks: the base is the stack of each slice's
    /// base layers, source k the stack of each slice's k-th other model's; every slice's
    /// parameters apply to its layers.
    static func slicedRequest(
        _ options: MergeOptions, slices: [LayerSlice], load: (String) throws -> ModelGraph
    ) throws -> MergeRequest {
        var graphs: [String: ModelGraph] = [:]
        func graph(_ path: String) throws -> ModelGraph {
            if let known = graphs[path] { return known }
            let loaded = try load(path)
            graphs[path] = loaded
            return loaded
        }
        var baseTensors: [Tensor] = []
        var sourceTensors: [[Tensor]] = []
        var baseModels: [String] = []
        var sourceModels: [[String]] = []
        var parameterSlices: [ParameterSlice] = []
        var offset = 0
        for (index, slice) in slices.enumerated() {
            let label = "slices[\(index)]"
            guard let first = slice.sources.first else { throw AmalgamError(.usage, "'\(label).sources' is empty") }
            let count = first.layers.count
            if let other = slice.sources.first(where: { $0.layers.count != count }) {
                throw AmalgamError(
                    .usage,
                    "'\(label)': every source of a slice takes as many layers (\(first.model) takes \(count), \(other.model) \(other.layers.count))"
                )
            }
            let baseModel = slice.baseModel ?? options.base
            var basePosition = slice.sources.firstIndex { $0.model == baseModel }
            if basePosition == nil {
                guard options.method.baseIsInput || options.method.name == "passthrough" else {
                    throw AmalgamError(.usage, "'\(label)' does not take layers from the base model \(baseModel)")
                }
                basePosition = 0
            }
            let baseSource = slice.sources[basePosition!]
            let others = slice.sources.enumerated().filter { $0.offset != basePosition! }.map(\.element)
            if index > 0 && others.count != sourceTensors.count {
                throw AmalgamError(
                    .usage,
                    "'\(label)' merges \(others.count) models besides its base, slices[0] \(sourceTensors.count): every slice needs as many"
                )
            }
            if index == 0 { sourceTensors = Array(repeating: [], count: others.count) }
            if index == 0 { sourceModels = Array(repeating: [], count: others.count) }
            let pre = index == 0
            let post = index == slices.count - 1
            baseTensors += try LayerStacking.slice(
                try graph(baseSource.model), label: baseSource.model, layers: baseSource.layers, offset: offset,
                pre: pre, post: post)
            baseModels.append(baseSource.model)
            for (k, source) in others.enumerated() {
                sourceTensors[k] += try LayerStacking.slice(
                    try graph(source.model), label: source.model, layers: source.layers, offset: offset, pre: pre,
                    post: post)
                sourceModels[k].append(source.model)
            }
            var parameters = MergeParameters(
                shared: slice.parameters, sources: others.map(\.parameters), base: baseSource.parameters)
            parameters.outer = options.parameters.shared
            parameterSlices.append(ParameterSlice(layers: offset..<offset + count, parameters: parameters))
            offset += count
        }
        func label(_ models: [String]) -> String {
            var unique: [String] = []
            for model in models where !unique.contains(model) { unique.append(model) }
            return unique.joined(separator: " + ")
        }
        let like = try graph(baseModels[0])
        var base = try LayerStacking.graph(baseTensors, like: like, layerCount: offset)
        var sources = try sourceTensors.map { try LayerStacking.graph($0, like: like, layerCount: offset) }
        if let tokenizerSource = options.tokenizerSource {
            // Each stack carries the tokenizer of the model its embeddings come from.
            let embeddingModels = [baseModels[0]] + sourceModels.map { $0[0] }
            let stacks = try zip([base] + sources, embeddingModels).map { stack, model in
                var stack = stack
                stack.attachments = try graph(model).attachments.merging(
                    ["config.json": stack.attachments["config.json"]].compactMapValues { $0 }
                ) { _, new in new }
                return stack
            }
            let aligned = try VocabularyAlignment.align(
                stacks, labels: embeddingModels, source: tokenizerSource, hasBase: !options.method.baseIsInput)
            base = aligned[0]
            sources = Array(aligned.dropFirst())
        }
        var request = MergeRequest(
            base: base, baseLabel: label(baseModels), sources: sources, sourceLabels: sourceModels.map(label),
            method: options.method, skip: options.skip, allowMissing: options.allowMissing, seed: options.seed,
            parallelism: options.parallelism)
        request.leaveOut = options.leaveOut
        request.wantsSpectra = options.report != nil || options.reportHTML != nil
        request.noiseFloor = options.noiseFloor
        request.parameters = options.parameters
        request.parameterSlices = parameterSlices
        if options.method.baseIsInput {
            request.baseInputPosition =
                slices[0].sources.firstIndex { $0.model == (slices[0].baseModel ?? options.base) } ?? 0
        }
        return request
    }

    /// Checks everything a merge would do without computing or writing: the inputs against
    /// each other, and every output (its format and settings, and that it may be written).
    public static func dryRun(_ options: MergeOptions, registry: FormatRegistry = Amalgam.builtInFormats) throws
        -> MergeDryRun
    {
        let outputs = OutputSet(
            overwrite: options.overwrite, protecting: identities(of: [options.base] + options.sources))
        try precheck(options, outputs: outputs, registry: registry, requiringOutputs: false)
        if options.method is PassthroughMerge, let slices = options.slices {
            let request = try slicedRequest(
                options, slices: slices, load: { try registry.read($0, options: options.read).graph })
            let planned = try PlannedOutputs(options.outputs, graph: request.base, into: outputs, registry: registry)
            return MergeDryRun(
                request: request, plan: MergePlan.passthrough(request.base), files: planned.files + options.extraFiles,
                warnings: planned.warnings)
        }
        let (request, plan) = try planMerge(options, registry: registry)
        let run = MergeRun(request, plan: plan)
        let planned = try PlannedOutputs(options.outputs, graph: try run.mergedGraph, into: outputs, registry: registry)
        for extra in options.extraFiles { try outputs.reserve(extra) }
        var dry = MergeDryRun(
            request: request, plan: plan, files: planned.files + options.extraFiles,
            warnings: planned.warnings)
        dry.noise = try sourceNoise(plan, request: request)
        return dry
    }

    /// The rounding noise of each quantised source's merged matrices (reads their block scales).
    static func sourceNoise(_ plan: MergePlan, request: MergeRequest) throws -> [MergeDryRun.SourceNoise] {
        var result: [MergeDryRun.SourceNoise] = []
        for (position, label) in request.sourceLabels.enumerated() {
            var energy = 0.0
            var matrices = 0
            var encodings = Set<String>()
            var largest = (tensor: "", value: 0.0)
            for entry in plan.entries where entry.kind == .matrix {
                guard let tensor = entry.sources[position] else { continue }
                let rows = entry.shape.dimensions[0]
                guard
                    let noise = try AmalgamError.withContext(
                        file: label, tensor: entry.name,
                        {
                            try QuantizationNoise(
                                of: tensor, rows: rows, columns: entry.shape.elementCount / max(1, rows))
                        })
                else { continue }
                tensor.storage.mappedRegion?.releaseResidentPages()
                energy += noise.energy
                matrices += 1
                encodings.insert(noise.encoding)
                if noise.spectralEdge > largest.value { largest = (entry.name, noise.spectralEdge) }
            }
            guard matrices > 0 else { continue }
            result.append(
                MergeDryRun.SourceNoise(
                    source: label, encodings: encodings.sorted(), matrices: matrices, frobenius: energy.squareRoot(),
                    largestEdge: largest))
        }
        return result
    }

    /// Merges, streaming tensor by tensor into the outputs, then writes the factors and the
    /// report. Every file appears together at the end, or none does; existing files are
    /// refused up front unless `overwrite`.
    public static func merge(_ options: MergeOptions, registry: FormatRegistry = Amalgam.builtInFormats) throws
        -> MergeOutcome
    {
        let outputs = OutputSet(
            overwrite: options.overwrite, protecting: identities(of: [options.base] + options.sources),
            warn: options.warn)
        let stage = try merge(options, into: outputs, keepingGraph: false, registry: registry)
        try outputs.commit()
        var outcome = stage.outcome
        outcome.files = outputs.paths
        return outcome
    }

    /// A quantised source whose components fill most of an SVD merge's selection: its
    /// quantisation noise is full-rank and ranks like knowledge by raw singular value.
    static func quantisedSourceWarnings(_ report: JSONValue, request: MergeRequest) -> [String] {
        let count = request.sources.count
        guard count > 1, let tensors = report["tensors"]?.arrayValue else { return [] }
        var taken = [Int](repeating: 0, count: count)
        for tensor in tensors {
            guard let perSource = tensor["components_per_source"]?.arrayValue, perSource.count == count else {
                continue
            }
            for (index, value) in perSource.enumerated() { taken[index] += Int(value.uint64Value ?? 0) }
        }
        let total = taken.reduce(0, +)
        guard total > 0 else { return [] }
        var lines: [String] = []
        for (index, source) in request.sources.enumerated() {
            let types = Set(
                source.tensors.compactMap { tensor -> String? in
                    if case .quantized(let encoding) = tensor.encoding { return encoding.codec.name }
                    return nil
                })
            let share = Double(taken[index]) / Double(total)
            guard !types.isEmpty, share > 0.5, share > 1.5 / Double(count) else { continue }
            lines.append(
                "source \(request.sourceLabels[index]) is quantised (\(types.sorted().joined(separator: ", "))) and took \(taken[index]) of the \(total) components kept: its quantisation noise, full-rank, ranks like knowledge by singular value; merge from its f16/f32 weights where you can"
            )
        }
        return lines
    }

    /// One line per quantised source that lost components or entries to its noise floor:
    /// how many, in how many tensors.
    static func noiseFloorNotes(_ report: JSONValue, request: MergeRequest) -> [String] {
        guard let tensors = report["tensors"]?.arrayValue else { return [] }
        var lost = [(components: Int, entries: Int, tensors: Int)](repeating: (0, 0, 0), count: request.sources.count)
        for tensor in tensors {
            // Per present source, in source order: map back through task_vector_norms' nulls.
            guard let norms = tensor["task_vector_norms"]?.arrayValue else { continue }
            let present = norms.indices.filter { norms[$0] != .null }
            for (key, isComponent) in [("components_below_noise_floor", true), ("entries_below_noise_floor", false)] {
                guard let counts = tensor[key]?.arrayValue, counts.count == present.count else { continue }
                for (position, count) in zip(present, counts) {
                    let value = Int(count.uint64Value ?? 0)
                    guard value > 0 else { continue }
                    if isComponent { lost[position].components += value } else { lost[position].entries += value }
                    lost[position].tensors += 1
                }
            }
        }
        return request.sources.indices.compactMap { index in
            let (components, entries, count) = lost[index]
            guard count > 0 else { return nil }
            let what = components > 0 ? "\(components) components" : "\(entries) task-vector entries"
            return
                "source \(request.sourceLabels[index]): \(what) at or below its quantisation noise left out, in \(count) tensor\(count == 1 ? "" : "s") (--noise-floor off keeps them)"
        }
    }

    /// Output formats, settings and targets, checked before any input is read.
    static func precheck(
        _ options: MergeOptions, outputs: OutputSet, registry: FormatRegistry, requiringOutputs: Bool = true
    ) throws {
        guard !options.outputs.isEmpty || options.outputLoRA != nil || !requiringOutputs else {
            throw AmalgamError(.usage, "a merge needs an --output")
        }
        for output in options.outputs {
            let writer = try output.writer(in: registry)
            _ = try writer.options(from: output.settings)
            // A folder's files are known once planned, and checked then.
            if !output.isFolder { try outputs.checkTarget(output.writerPath(for: writer)) }
        }
        for extra in options.extraFiles { try outputs.checkTarget(extra) }
    }

    /// The merge into `outputs` (not committed). With several outputs, or `keepingGraph`, the
    /// merged tensors go once to a scratch file and every output is written from it.
    static func merge(
        _ options: MergeOptions, into outputs: OutputSet, keepingGraph: Bool, registry: FormatRegistry,
        assembling assembly: ShardAssembly? = nil
    ) throws -> MergeStage {
        try precheck(options, outputs: outputs, registry: registry)
        if options.method is PassthroughMerge { return try passthrough(options, into: outputs, registry: registry) }
        let (request, plan) = try planMerge(
            options, registry: registry,
            wantsFactors: options.factors != nil || keepingGraph || options.outputLoRA != nil)
        for note in plan.notes { options.warn(note) }
        let run = MergeRun(request, plan: plan, progress: options.progress)
        defer { run.cancel() }
        if let assembly {
            let (supply, changed) = try assembly.supply(options: options, request: request, plan: plan)
            run.supply = supply
            run.changedSources = changed
        }
        let merged = try run.mergedGraph
        let planned = try PlannedOutputs(options.outputs, graph: merged, into: outputs, registry: registry)
        for extra in options.extraFiles { try outputs.reserve(extra) }
        for line in planned.warnings { options.warn(line) }

        let label = "merging \(plan.entries.count) tensors (\(options.method.name))"
        var kept: ModelGraph?
        // A LoRA output compares the merged tensors that are not matrices with the base's.
        let keepsCopy = keepingGraph || options.outputLoRA != nil
        let firstTarget = options.outputs.first?.path ?? options.outputLoRA?.files[0] ?? ""
        if planned.items.count == 1 && !keepsCopy {
            run.start(loadOrder: planned.firstLoadOrder)
            try planned.write(merged, into: outputs, progress: options.progress, label: label)
        } else {
            run.start()
            options.progress.begin(label: label, total: Int64(run.outputBytes))
            let copy = try TensorSpill.spill(merged, besides: firstTarget, into: outputs)
            options.progress.finish()
            try planned.write(copy, into: outputs, progress: options.progress)
            kept = copy
        }
        try run.checkSources()
        for line in quantisedSourceWarnings(run.report, request: request) { options.warn(line) }
        for line in noiseFloorNotes(run.report, request: request) { options.warn(line) }
        var loraReport: JSONValue?
        if let lora = options.outputLoRA, let kept {
            let export = try LoRAExport(plan: plan, factors: run.factors, merged: kept, rank: lora.rank)
            try export.write(lora, base: request.base, baseLabel: options.base, into: outputs)
            loraReport = export.report(lora)
            options.warn(export.summary(lora))
        }
        let factors = run.factorSet
        if let path = options.factors {
            var metadata = Metadata()
            metadata["amalgam.factors_of"] = .string(firstTarget)
            metadata["amalgam.merge_method"] = .string(options.method.name)
            let graph = try factors.graph(metadata: metadata)
            let plan = try SafetensorsPlugin().plan(graph, to: path, options: SafetensorsWriterOptions())
            try plan.write(graph, into: outputs, progress: SilentProgress())
        }
        var report = run.report
        if let loraReport, case .object(var fields) = report {
            fields.append(("lora_adapter", loraReport))
            report = .object(fields)
        }
        if let path = options.report { try outputs.create(path).write(report.serialized(pretty: true) + "\n") }
        if let path = options.reportHTML {
            try outputs.create(path).write(
                try ReportPage.html([
                    (label: options.report ?? "the merge into \(firstTarget)", json: report)
                ]))
        }
        return MergeStage(
            outcome: MergeOutcome(plan: plan, files: outputs.paths, report: report), factors: factors, graph: kept)
    }
}
