import LinearAlgebra
import SafetensorsFormat

/// A part of a sharded merge: which one, and where its files go.
public struct ShardRequest: Sendable {
    /// The part's number, from 0, and how many parts the merge has.
    public var index: Int
    public var count: Int
    /// The folder the part's files go to.
    public var folder: String
    /// zstd level for the part's tensor and factor files, nil for plain safetensors.
    public var zstdLevel: Int?
    /// The merge's options as written (without `--shard` and `--parts`), kept in the
    /// manifest, and those of them that decide the merged values (hashed into the plan).
    public var arguments: [String]
    public var definingArguments: [String]

    public init(
        index: Int, count: Int, folder: String, zstdLevel: Int? = nil, arguments: [String],
        definingArguments: [String]
    ) {
        self.index = index
        self.count = count
        self.folder = folder.count > 1 && folder.hasSuffix("/") ? String(folder.dropLast()) : folder
        self.zstdLevel = zstdLevel
        self.arguments = arguments
        self.definingArguments = definingArguments
    }

    /// Parses `I/N` (0 <= I < N). - Throws: `.usage` naming `label`.
    public static func parse(_ text: String, label: String) throws(AmalgamError) -> (index: Int, count: Int) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, count <= 100_000,
            index >= 0, index < count
        else {
            throw AmalgamError(.usage, "\(label) takes I/N with 0 <= I < N (part I of N, from 0), not '\(text)'")
        }
        return (index, count)
    }
}

/// What makes two runs compute the same merged values: the options that decide them, the
/// request (method, settings, seed, labels), the plan's entries, the inputs' fingerprints
/// and the number of parts.
enum ShardPlan {
    static func hash(
        arguments: [String], request: MergeRequest, plan: MergePlan, inputs: [InputFingerprint], count: Int
    ) -> String {
        var hash = FNV1a()
        for argument in arguments { hash.add(argument) }
        hash.add("method=" + request.method.name)
        hash.add(JSONValue.object(request.method.settings).serialized())
        hash.add("seed=\(request.seed) noise=\(request.noiseFloor) parts=\(count)")
        hash.add(([request.baseLabel] + request.sourceLabels).joined(separator: "\u{0}"))
        for entry in plan.entries {
            let present = entry.sources.map { $0 == nil ? "-" : "+" }.joined()
            hash.add("\(entry.name) \(entry.shape) \(entry.kind.rawValue) \(entry.outputDType.rawValue) \(present)")
        }
        for input in inputs { hash.add("\(input.path) \(input.bytes) \(input.headHash)") }
        return hash.hex
    }

    static func fingerprints(_ options: MergeOptions) throws(AmalgamError) -> [InputFingerprint] {
        var result: [InputFingerprint] = []
        for path in [options.base] + options.sources { result.append(try InputFingerprint(of: path)) }
        return result
    }
}

extension Amalgam {
    /// Computes part `shard.index` of the merge split into `shard.count` parts (`merge
    /// --shard I/N --parts DIR`): the part's merged tensors in f32, the factors the merge
    /// wants, and a manifest, all in `shard.folder`, appearing together or not at all. The
    /// outputs, factors and report named in `options` are not written: they say what the
    /// parts must hold for `assemble` to write them.
    public static func mergeShard(
        _ options: MergeOptions, shard: ShardRequest, registry: FormatRegistry = Amalgam.builtInFormats
    ) throws -> ShardManifest {
        guard !(options.method is PassthroughMerge), options.slices == nil else {
            throw AmalgamError(.usage, "--shard splits a merge of whole models (not passthrough or layer slices)")
        }
        let outputs = OutputSet(
            overwrite: options.overwrite, protecting: identities(of: [options.base] + options.sources),
            warn: options.warn)
        let wantsFactors = options.factors != nil || options.outputLoRA != nil
        let (request, plan) = try planMerge(options, registry: registry, wantsFactors: wantsFactors)
        let inputs = try ShardPlan.fingerprints(options)
        let hash = ShardPlan.hash(
            arguments: shard.definingArguments, request: request, plan: plan, inputs: inputs, count: shard.count)
        let shards = MergeShards(
            plan: plan, count: shard.count, decomposes: MergeMethods.svdMethods.contains(options.method.name))
        let part = shards.parts[shard.index]
        let run = MergeRun(request, plan: plan, progress: options.progress)
        run.writesFloat32 = true
        run.keepsFactors = true  // a part carries the method's factors, for an assembly that wants them
        defer { run.cancel() }
        let merged = try run.mergedGraph
        var metadata = Metadata()
        metadata["amalgam.plan_hash"] = .string(hash)
        metadata["amalgam.shard"] = .string("\(shard.index)/\(shard.count)")
        let graph = try ModelGraph(tensors: part.map { merged.tensors[$0] }, metadata: metadata)

        let stem = ShardManifest.stem(index: shard.index, count: shard.count)
        let suffix = shard.zstdLevel == nil ? ".safetensors" : ".safetensors.zst"
        var settings = OutputSettings()
        settings.zstdLevel = shard.zstdLevel
        let tensorsFile = stem + suffix
        let planned = try PlannedOutputs(
            [ModelOutput(path: shard.folder + "/" + tensorsFile, settings: settings)], graph: graph, into: outputs,
            registry: registry)
        let factorsFile = stem + ".factors" + suffix
        let manifestPath = shard.folder + "/" + stem + ".json"
        try outputs.checkTarget(shard.folder + "/" + factorsFile)
        try outputs.reserve(manifestPath)
        for note in plan.notes where shard.index == 0 { options.warn(note) }
        run.start(loadOrder: (planned.firstLoadOrder ?? Array(part.indices)).map { part[$0] })
        try planned.write(
            graph, into: outputs, progress: options.progress,
            label: "merging part \(shard.index + 1) of \(shard.count): \(part.count) tensors (\(options.method.name))")

        var factors = FactorSet()
        let kept = run.factorsByName
        for index in part {
            let name = plan.entries[index].name
            guard let found = kept[name] else { continue }
            factors.add(
                FactorSet.Factors(
                    rows: found.u.rows, columns: found.v.rows, u: found.u.elements, s: found.s, v: found.v.elements),
                for: name)
        }
        if !factors.isEmpty {
            let planned = try PlannedOutputs(
                [ModelOutput(path: shard.folder + "/" + factorsFile, settings: settings)],
                graph: try factors.graph(metadata: metadata), into: outputs, registry: registry)
            try planned.write(try factors.graph(metadata: metadata), into: outputs, progress: SilentProgress())
        }
        let manifest = ShardManifest(
            index: shard.index, count: shard.count, planHash: hash, arguments: shard.arguments, inputs: inputs,
            tensorsFile: tensorsFile, factorsFile: factors.isEmpty ? nil : factorsFile,
            computedFactors: wantsFactors, computedSpectra: request.wantsSpectra,
            tensors: part.map { plan.entries[$0].name }, reports: run.tensorReports, noiseEdges: run.noiseEdges,
            changedSources: run.changedSources)
        try outputs.create(manifestPath).write(manifest.json.serialized(pretty: true) + "\n")
        try outputs.commit()
        var written = manifest
        written.path = manifestPath
        return written
    }

    /// The manifests of the parts at `paths`: manifest files, or folders whose
    /// `part-*-of-*.json` files are read.
    public static func shardManifests(_ paths: [String]) throws(AmalgamError) -> [ShardManifest] {
        var files: [String] = []
        for given in paths {
            let path = given.count > 1 && given.hasSuffix("/") ? String(given.dropLast()) : given
            if FileSystem.isFolder(path) {
                let found = FileSystem.list(path).filter { $0.hasPrefix("part-") && $0.hasSuffix(".json") }.sorted()
                guard !found.isEmpty else {
                    throw AmalgamError(.notFound, "folder holds no part manifest (part-*-of-*.json)", file: path)
                }
                files += found.map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        guard !files.isEmpty else { throw AmalgamError(.usage, "assemble needs the parts (their folder or manifests)") }
        var manifests: [ShardManifest] = []
        for file in files { manifests.append(try ShardManifest(reading: file)) }
        return manifests
    }

    /// Writes the outputs of a sharded merge from its parts (`amalgam assemble`): checks
    /// that they belong to one plan (the hash `options` and the inputs give now) and hold
    /// every merged tensor exactly once, then streams them into the outputs as `merge` would
    /// have written them on one machine: the same bytes, the same factors, the same report
    /// (but its timing).
    public static func assemble(
        _ options: MergeOptions, parts: [ShardManifest], registry: FormatRegistry = Amalgam.builtInFormats
    ) throws -> MergeOutcome {
        let outputs = OutputSet(
            overwrite: options.overwrite,
            protecting: identities(of: [options.base] + options.sources + parts.map(\.path)), warn: options.warn)
        let assembly = ShardAssembly(parts: parts, registry: registry)
        let stage = try merge(options, into: outputs, keepingGraph: false, registry: registry, assembling: assembly)
        try outputs.commit()
        var outcome = stage.outcome
        outcome.files = outputs.paths
        return outcome
    }
}

/// The parts of a sharded merge, checked against the plan being assembled and read as a
/// `MergedTensorSupply`.
struct ShardAssembly {
    let parts: [ShardManifest]
    let registry: FormatRegistry

    /// Checks the parts against `plan` and returns their tensors. - Throws: `.mismatch` for
    /// parts of another plan or inputs that changed, `.notFound` naming the missing part and
    /// its tensors, `.usage` when the outputs want what the parts did not keep.
    func supply(
        options: MergeOptions, request: MergeRequest, plan: MergePlan
    ) throws -> (supply: any MergedTensorSupply, changedSources: [Bool]) {
        let first = parts[0]
        let count = first.count
        for part in parts {
            guard part.count == count, part.planHash == first.planHash else {
                throw AmalgamError(
                    .mismatch,
                    "part \(part.index + 1) of \(part.count) (plan \(part.planHash)) is not of the merge of \(first.path) (part \(first.index + 1) of \(count), plan \(first.planHash))",
                    file: part.path)
            }
        }
        var byIndex: [Int: ShardManifest] = [:]
        for part in parts {
            if let earlier = byIndex[part.index] {
                throw AmalgamError(
                    .usage, "part \(part.index + 1) of \(count) is given twice (also \(earlier.path))", file: part.path)
            }
            byIndex[part.index] = part
        }
        let inputs = try ShardPlan.fingerprints(options)
        for (now, then) in zip(inputs, first.inputs) where now != then {
            throw AmalgamError(
                .mismatch,
                "changed since the parts were merged (\(then.bytes) bytes, head hash \(then.headHash); now \(now.bytes) bytes, \(now.headHash))",
                file: now.path)
        }
        let definingArguments = MergeArguments.defining(first.arguments)
        let hash = ShardPlan.hash(
            arguments: definingArguments, request: request, plan: plan, inputs: inputs, count: count)
        guard hash == first.planHash else {
            throw AmalgamError(
                .mismatch,
                "the parts are of plan \(first.planHash), these options and inputs give plan \(hash): assemble with the merge's own options",
                file: first.path)
        }
        let shards = MergeShards(
            plan: plan, count: count, decomposes: MergeMethods.svdMethods.contains(options.method.name))
        let missing = (0..<count).filter { byIndex[$0] == nil }
        if !missing.isEmpty {
            let names = missing.flatMap { shards.parts[$0].map { plan.entries[$0].name } }
            let shown = names.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
            throw AmalgamError(
                .notFound,
                "part\(missing.count == 1 ? "" : "s") \(missing.map { String($0 + 1) }.joined(separator: ", ")) of \(count) missing (not written, or its task failed): \(names.count) tensors not merged: \(shown)\(names.count > 8 ? ", ..." : "")",
                file: first.folder)
        }
        if request.wantsFactors && !first.computedFactors {
            throw AmalgamError(
                .usage,
                "the parts kept no factors: give the shard merges --factors or --output-lora too, or assemble without them",
                file: first.path)
        }
        if request.wantsSpectra && !first.computedSpectra {
            throw AmalgamError(
                .usage,
                "the parts hold no report spectra: give the shard merges --report too, or assemble without a report",
                file: first.path)
        }
        var changed = [Bool](repeating: false, count: request.sources.count)
        var owner: [String: Int] = [:]
        for part in parts {
            guard part.tensors == shards.parts[part.index].map({ plan.entries[$0].name }) else {
                throw AmalgamError(
                    .mismatch, "part \(part.index + 1) of \(count) does not hold the tensors the plan gives it",
                    file: part.path)
            }
            for name in part.tensors { owner[name] = part.index }
            for (position, flag) in part.changedSources.enumerated() where position < changed.count && flag {
                changed[position] = true
            }
        }
        var graphs: [Int: ModelGraph] = [:]
        var factors: [Int: FactorSet] = [:]
        for part in parts {
            let path = part.folder + "/" + part.tensorsFile
            let graph = try registry.read(path, explicit: "safetensors").graph
            guard graph.metadata["amalgam.plan_hash"]?.stringValue == part.planHash else {
                throw AmalgamError(.mismatch, "is not the tensor file of manifest \(part.path)", file: path)
            }
            for name in part.tensors where graph[name] == nil {
                throw AmalgamError(.notFound, "the part's tensor file lacks it", file: path, tensor: name)
            }
            graphs[part.index] = graph
            if let file = part.factorsFile {
                let factorPath = part.folder + "/" + file
                factors[part.index] = try AmalgamError.withContext(file: factorPath) {
                    try FactorSet(graph: try registry.read(factorPath, explicit: "safetensors").graph)
                }
            }
        }
        let supply = PartsSupply(
            owner: owner, graphs: graphs, factors: factors,
            reports: Dictionary(uniqueKeysWithValues: parts.map { ($0.index, $0) }))
        return (supply, changed)
    }
}

/// The tensors of the parts, read when the assembling run asks for them.
private struct PartsSupply: MergedTensorSupply, @unchecked Sendable {
    let owner: [String: Int]
    let graphs: [Int: ModelGraph]
    let factors: [Int: FactorSet]
    let reports: [Int: ShardManifest]

    func tensor(_ name: String) throws -> SuppliedTensor {
        guard let index = owner[name], let tensor = graphs[index]?[name], let manifest = reports[index] else {
            throw AmalgamError(.notFound, "no part holds this tensor", tensor: name)
        }
        let values = try AmalgamError.withContext(file: manifest.folder + "/" + manifest.tensorsFile) {
            try tensor.floatValues()
        }
        tensor.storage.mappedRegion?.releaseResidentPages()
        let kept = factors[index]?[name].map { found in
            LowRankFactors(
                u: Matrix(rows: found.rows, columns: found.rank, elements: found.u), s: found.s,
                v: Matrix(rows: found.columns, columns: found.rank, elements: found.v))
        }
        return SuppliedTensor(
            merged: values, report: manifest.reports[name] ?? .null, factors: kept,
            noiseEdge: manifest.noiseEdges[name])
    }
}

/// Which of a merge's command-line options decide its merged values, and which only say
/// where and how to write them (those `assemble` may give anew).
public enum MergeArguments {
    /// The options that name outputs, or how they are written, and how many threads run.
    public static let outputSettings: [Setting] =
        [.output, .ggufArchitecture, .factors, .report, .reportHTML, .outputLoRA, .loraRank, .force, .dryRun, .threads]
        + ModelOutput.settings

    /// `arguments` (options as written) without the output ones.
    public static func defining(_ arguments: [String]) -> [String] {
        let names = Set(outputSettings.map { "--" + $0.name })
        let flags = Set(outputSettings.filter { $0.kind == .flag }.map { "--" + $0.name })
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if names.contains(argument) {
                index += flags.contains(argument) ? 1 : 2
                continue
            }
            result.append(argument)
            index += 1
        }
        return result
    }
}
