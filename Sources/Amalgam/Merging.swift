@_exported import MergeKernel

/// One file a merge writes.
public struct MergeOutput: Sendable {
    public var path: String
    /// Format identifier; nil uses the extension.
    public var format: String?
    /// Convert floating-point tensors to this dtype; nil keeps the base's.
    public var dtype: DType?
    public var maximumShardBytes: Int?
    /// Writer options (`compress`, `keep-dtype`).
    public var writerOptions: [String: String]

    public init(
        path: String, format: String? = nil, dtype: DType? = nil, maximumShardBytes: Int? = nil,
        writerOptions: [String: String] = [:]
    ) {
        self.path = path
        self.format = format
        self.dtype = dtype
        self.maximumShardBytes = maximumShardBytes
        self.writerOptions = writerOptions
    }
}

/// Everything `amalgam merge` and recipes choose.
public struct MergeOptions: Sendable {
    public var base: String
    public var sources: [String]
    public var method: any MergeMethod
    public var outputs: [MergeOutput]
    /// safetensors file for the AXIS factors (`<name>.U`, `.S`, `.V`).
    public var factors: String?
    /// JSON report path.
    public var report: String?
    public var skip: [NamePattern] = []
    public var allowMissing = false
    public var seed: UInt64 = 0
    public var threads = 2
    public var overwrite = false
    public var progress: any ProgressReporter = SilentProgress()
    public var warn: @Sendable (String) -> Void = { _ in }

    public init(base: String, sources: [String], method: any MergeMethod, outputs: [MergeOutput]) {
        self.base = base
        self.sources = sources
        self.method = method
        self.outputs = outputs
    }
}

/// What a merge did.
public struct MergeOutcome: Sendable {
    public var plan: MergePlan
    public var files: [String]
    public var report: JSONValue
}

extension Amalgam {
    /// Reads the base and sources (headers only) and plans the merge.
    public static func planMerge(_ options: MergeOptions, registry: FormatRegistry = Amalgam.builtInFormats) throws -> (
        MergeRequest, MergePlan
    ) {
        func load(_ path: String) throws -> ModelGraph { try registry.read(path).graph }
        let request = MergeRequest(
            base: try load(options.base), baseLabel: options.base, sources: try options.sources.map(load),
            sourceLabels: options.sources, method: options.method, skip: options.skip,
            allowMissing: options.allowMissing,
            seed: options.seed, threads: options.threads)
        return (request, try MergePlan.make(request))
    }

    /// Merges, streaming tensor by tensor into the first output; further outputs are
    /// converted from the first; then the factors and the report are written. Every file is
    /// written atomically, and existing files are refused up front unless `overwrite`.
    public static func merge(_ options: MergeOptions, registry: FormatRegistry = Amalgam.builtInFormats) throws
        -> MergeOutcome
    {
        guard let first = options.outputs.first else { throw AmalgamError(.usage, "a merge needs an --output") }
        let protected = identities(of: [options.base] + options.sources)
        let writers = try prepareOutputs(
            options.outputs, extraTargets: [options.factors, options.report].compactMap { $0 },
            overwrite: options.overwrite,
            protecting: protected, registry: registry)

        let (request, plan) = try planMerge(options, registry: registry)
        for note in plan.notes { options.warn(note) }
        let run = MergeRun(request, plan: plan, progress: options.progress)
        defer { run.cancel() }
        var graph = try run.mergedGraph
        if let dtype = first.dtype { graph = try graph.convertingFloatingPoint(to: dtype) }
        let writeOptions = WriteOptions(
            overwrite: options.overwrite, maximumShardBytes: first.maximumShardBytes, protectedInputs: protected,
            extra: first.writerOptions, warn: options.warn, validateBeforeCommit: { try run.checkSources() })
        run.start(loadOrder: writers[0].loadOrder(of: graph, options: writeOptions))
        options.progress.begin(
            label: "merging \(plan.entries.count) tensors (\(options.method.name))", total: Int64(run.outputBytes))
        var files: [String]
        do {
            files = try writers[0].write(graph, to: first.path, options: writeOptions)
        } catch {
            options.progress.finish()
            throw error
        }
        options.progress.finish()
        files += try convertFurtherOutputs(
            options.outputs, writtenBy: writers[0], overwrite: options.overwrite, warn: options.warn, registry: registry
        )
        if let path = options.factors {
            var tensors: [Tensor] = []
            for (name, factors) in run.factors {
                tensors.append(
                    Tensor(name: name + ".U", shape: [factors.u.rows, factors.u.columns], floats: factors.u.elements))
                tensors.append(Tensor(name: name + ".S", shape: [factors.s.count], floats: factors.s))
                tensors.append(
                    Tensor(name: name + ".V", shape: [factors.v.rows, factors.v.columns], floats: factors.v.elements))
            }
            var metadata = Metadata()
            metadata["amalgam.factors_of"] = .string(first.path)
            metadata["amalgam.merge_method"] = .string(options.method.name)
            let factorGraph = try ModelGraph(tensors: tensors, metadata: metadata)
            files += try registry.plugin(named: "safetensors").write(
                factorGraph, to: path, options: WriteOptions(overwrite: options.overwrite, protectedInputs: protected))
        }
        let report = run.report
        if let path = options.report {
            try writeJSON(report, to: path, overwrite: options.overwrite, protecting: protected)
            files.append(path)
        }
        return MergeOutcome(plan: plan, files: files, report: report)
    }
}
