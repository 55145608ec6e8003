import AmalgamCore
import Foundation
import LinearAlgebra

/// One merge, executed as a stream: `mergedGraph` has the base's tensors in order, each
/// computed when a writer loads it. Worker threads compute up to `threads + 1` tensors
/// ahead of the writer, so peak memory depends on the largest tensors, not on their count.
/// Each worker uses one BLAS thread, so the output does not depend on the thread count.
///
/// After the writer has loaded every tensor, `report` and `factors` are complete.
public final class MergeRun: @unchecked Sendable {
    public let plan: MergePlan
    private let request: MergeRequest
    private let pipeline: Pipeline
    private let lock = NSLock()
    private var reports: [JSONValue?]
    private var factorList: [(name: String, factors: LowRankFactors)?]
    private var sourceChanged: [Bool]
    private let started = Date()
    private let progress: any ProgressReporter
    /// Layers of the merged model (one past the largest block index), for layer gradients.
    private let layerCount: Int
    /// The update noise edge of each merged matrix (kept for a shard's manifest).
    private var noiseEdgeList: [Float?]

    /// A shard's part: merged tensors in f32 (the values the method made, before rounding to
    /// the output dtype), so that the assembly rounds and factors them as one run would.
    public var writesFloat32 = false
    /// Whether the factors of merged matrices are kept for `factors` (by default when the
    /// request wants them): a method's own factors (AXIS's) are otherwise dropped with their
    /// tensor, so a large model's factors do not accumulate over the run.
    public var keepsFactors: Bool
    /// Assembling parts: merged tensors come from here instead of being computed; copied
    /// tensors still come from the base.
    public var supply: (any MergedTensorSupply)?

    /// Bytes of merged output, the unit in which the run reports progress.
    public var outputBytes: Int {
        plan.entries.reduce(0) { $0 + $1.shape.elementCount * $1.outputDType.byteWidth }
    }

    /// Prepares the run; nothing is computed before `start(loadOrder:)`.
    public init(_ request: MergeRequest, plan: MergePlan, progress: any ProgressReporter = SilentProgress()) {
        self.request = request
        self.plan = plan
        self.progress = progress
        layerCount = plan.entries.compactMap { LayerPosition(name: $0.name).block }.max().map { $0 + 1 } ?? 0
        reports = [JSONValue?](repeating: nil, count: plan.entries.count)
        factorList = Array(repeating: nil, count: plan.entries.count)
        noiseEdgeList = Array(repeating: nil, count: plan.entries.count)
        sourceChanged = [Bool](repeating: false, count: request.sources.count)
        keepsFactors = request.wantsFactors
        // One BLAS thread per worker: LAPACK's results depend on its thread count, a merge's
        // bytes must not. Threads go to tensors instead, as many at once as half the memory holds.
        var workers = request.parallelism.workers(for: plan.entries.count)
        let budget = SystemCall.physicalMemory / 2
        while workers > 1, plan.memoryEstimate(threads: workers, method: request.method) > budget { workers -= 1 }
        pipeline = Pipeline(count: plan.entries.count, workers: workers)
    }

    /// Starts the workers. - Parameter loadOrder: the order the writer will load the merged
    ///   tensors in (`FormatPlugin.loadOrder`); workers compute ahead in that order.
    public func start(loadOrder: [Int]? = nil) {
        BLAS.setThreadCount(1)
        // Weak: a worker still computing when the run is released (its writer failed) must
        // keep it alive to the end of that tensor, not read a destroyed object.
        pipeline.start(schedule: loadOrder ?? Array(plan.entries.indices)) { [weak self] index in
            guard let self else { throw AmalgamError(.internal, "merge cancelled") }
            return try self.compute(index)
        }
    }

    deinit { pipeline.cancel() }

    /// Stops the workers (after an error in the writer, say).
    public func cancel() { pipeline.cancel() }

    /// The merged model: the base's metadata, companion files and tensors, with deferred storage.
    public var mergedGraph: ModelGraph {
        get throws {
            var tensors: [Tensor] = []
            for (index, entry) in plan.entries.enumerated() {
                let storage: TensorStorage = .deferred { [self] in try self.take(index) }
                tensors.append(
                    Tensor(
                        name: entry.name, originalName: entry.base.originalName, shape: entry.shape,
                        encoding: .plain(writesFloat32 && entry.kind != .copy ? .f32 : entry.outputDType),
                        storage: storage))
            }
            // The base's configuration and tokenizer go with the merge to every output.
            var graph = try ModelGraph(
                tensors: tensors, metadata: request.base.metadata, architecture: request.base.architecture,
                sourceFormat: request.base.sourceFormat, attachments: request.base.attachments)
            graph.metadata["amalgam.merge_method"] = .string(request.method.name)
            return graph
        }
    }

    private func take(_ index: Int) throws -> ByteRegion {
        let region = try pipeline.take(index)
        progress.advance(by: Int64(region.count))
        return region
    }

    /// Throws when a source never differed from the base (its task vector is zero in every
    /// tensor: usually the base passed as a source). Call after every tensor was taken.
    public func checkSources() throws {
        let unchanged = lock.withLock { sourceChanged.indices.filter { !sourceChanged[$0] } }
        if let first = unchanged.first {
            throw AmalgamError(
                .mismatch,
                "source \(request.sourceLabels[first]) is identical to the base \(request.baseLabel): its task vector is zero in every tensor"
            )
        }
    }

    /// Which sources differed from the base in a tensor taken so far.
    public var changedSources: [Bool] {
        get { lock.withLock { sourceChanged } }
        set { lock.withLock { sourceChanged = zip(sourceChanged, newValue).map { $0 || $1 } } }
    }

    /// Each taken merged matrix's update noise edge, by name (only where sources are quantised).
    public var noiseEdges: [String: Float] {
        lock.withLock {
            var edges: [String: Float] = [:]
            for (entry, edge) in zip(plan.entries, noiseEdgeList) where edge != nil { edges[entry.name] = edge }
            return edges
        }
    }

    /// The report entry of each tensor taken so far, by name.
    public var tensorReports: [String: JSONValue] {
        lock.withLock {
            var result: [String: JSONValue] = [:]
            for (entry, report) in zip(plan.entries, reports) where report != nil { result[entry.name] = report }
            return result
        }
    }

    /// The factors of each tensor taken so far that has them, by name.
    public var factorsByName: [String: LowRankFactors] {
        lock.withLock {
            Dictionary(
                factorList.compactMap { $0 }.map { ($0.name, $0.factors) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// Per-tensor facts, in model order (complete once every tensor was taken).
    public var report: JSONValue {
        lock.withLock {
            .object([
                ("schema", .string("amalgam.merge-report/1")),
                ("method", .string(request.method.name)),
                ("settings", .object(request.method.settings)),
                ("base", .string(request.baseLabel)),
                ("sources", .array(request.sourceLabels.map { .string($0) })),
                ("seed", .integer(request.seed)),
                ("threads", .integer(request.parallelism.threads)),
                ("seconds", .number(ByteSize.formatFixed(Date().timeIntervalSince(started), digits: 3))),
                ("notes", .array(plan.notes.map { .string($0) })),
                ("tensors", .array(reports.compactMap { $0 })),
            ])
        }
    }

    /// Factors of every merged matrix that has them, in model order.
    public var factors: [(name: String, factors: LowRankFactors)] {
        lock.withLock { factorList.compactMap { $0 } }
    }

    /// The same factors in the shared schema `merge --factors` writes and `tune` reads.
    public var factorSet: FactorSet {
        var set = FactorSet()
        for (name, factors) in factors {
            set.add(
                FactorSet.Factors(
                    rows: factors.u.rows, columns: factors.v.rows, u: factors.u.elements, s: factors.s,
                    v: factors.v.elements),
                for: name)
        }
        return set
    }

    /// A stable per-tensor seed: the run seed mixed with the name (FNV-1a).
    static func seed(_ base: UInt64, name: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        var mixer = SeededRandom(seed: base ^ hash)
        return mixer.next()
    }

    private func compute(_ index: Int) throws -> ByteRegion {
        let entry = plan.entries[index]
        return try AmalgamError.withContext(tensor: entry.name) {
            if entry.kind == .copy {
                lock.withLock { reports[index] = .object([("name", .string(entry.name)), ("kind", .string("copy"))]) }
                return try entry.base.loadBytes()
            }
            if let supply { return try assembled(index, entry: entry, from: supply) }
            let base = try AmalgamError.withContext(file: request.baseLabel) { try entry.base.floatValues() }
            try Self.finishReading(entry.base)
            try Self.checkFinite(base, label: "the base \(request.baseLabel)")
            var deltas: [[Float]] = []
            var weights: [[Float]] = []
            var indices: [Int] = []
            var norms: [JSONValue] = []
            var noises: [QuantizationNoise?] = []
            var factored: [FactoredTaskVector?] = []
            var reduced: [ReducedTaskVector?] = []
            var scratch: [Float] = []
            let rows = entry.shape.rank == 2 ? entry.shape.dimensions[0] : 1
            let seed = Self.seed(request.seed, name: entry.name)
            let present = entry.sources.count { $0 != nil }
            // A method that combines its sources as a running sum takes each as it is read.
            var running = try runningMerge(entry, base: base, seed: seed)
            for (position, tensor) in entry.sources.enumerated() {
                guard let tensor else {
                    norms.append(.null)
                    continue
                }
                if let vector = try factoredTaskVector(position, entry: entry) {
                    // A LoRA source, to a method that takes factors: no m x n array is built.
                    guard vector.isFinite else {
                        throw AmalgamError(
                            .invalidFormat,
                            "source \(request.sourceLabels[position]) holds a non-finite LoRA factor; merges need finite values"
                        )
                    }
                    let squared = try vector.squaredNorm
                    if squared > 0 { lock.withLock { sourceChanged[position] = true } }
                    norms.append(.number("\(squared.squareRoot())"))
                    noises.append(nil)
                    factored.append(vector)
                    reduced.append(nil)
                    deltas.append([])
                    indices.append(position)
                    continue
                }
                // The bytes are loaded once: the noise estimate reads the block scales the decode needs.
                // A reduced source's buffer takes the next source's values (no fresh pages to fault in).
                var values = scratch.count == tensor.shape.elementCount ? scratch : []
                scratch = []
                try AmalgamError.withContext(file: request.sourceLabels[position]) {
                    let bytes = try tensor.loadBytes()
                    noises.append(
                        QuantizationNoise(
                            encoding: tensor.encoding, bytes: bytes, rows: rows,
                            columns: entry.shape.elementCount / max(1, rows)))
                    try AmalgamError.withContext(tensor: tensor.name) {
                        if values.isEmpty {
                            values = try tensor.encoding.decodeToFloat(bytes, elementCount: tensor.shape.elementCount)
                        } else {
                            try values.withUnsafeMutableBufferPointer { try tensor.encoding.decode(bytes, into: $0) }
                        }
                    }
                }
                try Self.finishReading(tensor)
                try Self.checkFinite(values, label: "source \(request.sourceLabels[position])")
                var squared = 0.0
                if request.method.takesWeights {
                    for i in values.indices {
                        let difference = values[i] - base[i]
                        squared += Double(difference) * Double(difference)
                    }
                } else {
                    // In place: the source's weights become its task vector (f32, as mergekit).
                    squared = SumOfSquares.subtracting(base, from: &values)
                }
                if running != nil {
                    // The buffer is lent to the merge as scratch, then takes the next source.
                    try running!.add(&values, noise: noises.last ?? nil)
                    scratch = values
                    reduced.append(nil)
                    deltas.append([])
                } else if request.method.takesWeights {
                    weights.append(values)
                    reduced.append(nil)
                    deltas.append([])
                } else {
                    // A method that decomposes each source alone does so now: only its factors stay.
                    let reduction =
                        entry.kind == .matrix && entry.shape.rank == 2
                        ? try request.method.reduce(
                            Matrix(rows: rows, columns: entry.shape.dimensions[1], elements: values),
                            context: ReductionContext(
                                seed: seed, sourceIndex: position, presentSources: present, squaredNorm: squared))
                        : nil
                    reduced.append(reduction)
                    if reduction == nil {
                        deltas.append(values)
                    } else {
                        deltas.append([])
                        scratch = values
                    }
                }
                if squared > 0 { lock.withLock { sourceChanged[position] = true } }
                norms.append(.number("\(squared.squareRoot())"))
                factored.append(nil)
                indices.append(position)
            }
            // The last source's buffer has no next source to take it: free it before the merge.
            scratch = []
            var result: TensorMergeResult
            if deltas.isEmpty {
                result = TensorMergeResult(merged: base)
            } else if running != nil {
                result = try running!.finish()
            } else {
                var input = TensorMergeInput(
                    name: entry.name, shape: entry.shape, base: base, taskVectors: deltas, sourceIndices: indices,
                    isMergedMatrix: entry.kind == .matrix, seed: seed)
                if reduced.contains(where: { $0 != nil }) {
                    input.reducedTaskVectors = reduced
                    let tensors = indices.map { entry.sources[$0] }
                    input.taskVectorReader = { [self, indices] position in
                        guard let tensor = tensors[position] else {
                            throw AmalgamError(.internal, "no tensor for present source \(position)")
                        }
                        return try rereadTaskVector(tensor, source: indices[position], base: base)
                    }
                }
                if noises.contains(where: { $0 != nil }) {
                    input.noise = noises
                    input.noiseFloor = request.noiseFloor
                }
                if factored.contains(where: { $0 != nil }) { input.factoredTaskVectors = factored }
                input.parameters = try resolvedParameters(entry.name, sources: indices)
                if request.method.takesWeights {
                    if request.method.baseIsInput {
                        let position = min(request.baseInputPosition ?? 0, weights.count)
                        weights.insert(base, at: position)
                        input.baseInputPosition = position
                    }
                    input.weights = weights
                    weights = []
                }
                result = try request.method.merge(input)
            }
            guard result.merged.count == base.count else {
                throw AmalgamError(
                    .internal, "\(request.method.name) returned \(result.merged.count) values for \(base.count)")
            }
            let noiseEdge =
                entry.kind == .matrix
                ? updateNoiseEdge(noises, rows: rows, columns: entry.shape.elementCount / max(1, rows)) : nil
            if request.wantsFactors, entry.kind == .matrix, result.factors == nil {
                result.factors = try Self.factors(
                    ofUpdate: result.merged, base: base, shape: entry.shape, noiseFloor: noiseEdge)
            }
            var updateSquared = 0.0
            for i in base.indices {
                let difference = Double(result.merged[i]) - Double(base[i])
                updateSquared += difference * difference
            }
            let update = updateSquared.squareRoot()
            var fields: [(key: String, value: JSONValue)] = [
                ("name", .string(entry.name)), ("shape", .array(entry.shape.dimensions.map { .integer($0) })),
                ("kind", .string(entry.kind.rawValue)), ("task_vector_norms", .array(norms)),
                ("update_norm", .number("\(update)")),
            ]
            if noises.contains(where: { $0 != nil }) {
                // In the order of task_vector_norms: null for absent and unquantised sources.
                var entries: [JSONValue] = []
                var present = noises.makeIterator()
                for tensor in entry.sources { entries.append(tensor == nil ? .null : present.next()!?.json ?? .null) }
                fields.append(("quantization_noise", .array(entries)))
                fields.append(("noise_floor", .string(request.noiseFloor.description)))
            }
            if indices.count < entry.sources.count {
                // Methods report per present source; this maps their arrays to the sources.
                fields.append(("source_indices", .array(indices.map { .integer($0) })))
            }
            fields += result.details
            if let factors = result.factors, !result.details.contains(where: { $0.key == "merged_singular_values" }) {
                fields.append(("merged_singular_values", .numbers(factors.s)))
            }
            if request.wantsSpectra, entry.kind == .matrix, entry.shape.rank == 2, !deltas.isEmpty,
                !factored.contains(where: { $0 != nil })
            {
                let recorded = fields.contains { $0.key == "source_singular_values" }
                if !recorded, request.method.takesWeights || running != nil || reduced.contains(where: { $0 != nil }) {
                    // The spectra are of task vectors, whatever the method kept of them.
                    deltas = try indices.map { position in
                        let values = try entry.sources[position]!.floatValues()
                        return zip(values, base).map { $0 - $1 }
                    }
                }
                fields += try Self.spectra(
                    missingFrom: fields, deltas: deltas, positions: indices, merged: result.merged, base: base,
                    shape: entry.shape, seed: Self.seed(request.seed, name: entry.name))
            }
            lock.withLock {
                reports[index] = .object(fields)
                noiseEdgeList[index] = noiseEdge
                if keepsFactors, let factors = result.factors { factorList[index] = (entry.name, factors) }
            }
            return ElementConversion.region(result.merged, as: writesFloat32 ? .f32 : entry.outputDType)
        }
    }

    /// The method's running merge of `entry` (`MergeMethod.runningMerge`), or nil when it
    /// merges from every source at once. Not for methods that take LoRA sources as factors.
    private func runningMerge(_ entry: MergePlan.Entry, base: [Float], seed: UInt64) throws -> (any RunningMerge)? {
        guard var input = MergePlan.runningMergeInput(entry, method: request.method, base: base, seed: seed) else {
            return nil
        }
        let positions = input.sourceIndices
        input.parameters = try resolvedParameters(entry.name, sources: positions)
        input.noiseFloor = request.noiseFloor
        if request.method.baseIsInput { input.baseInputPosition = min(request.baseInputPosition ?? 0, positions.count) }
        return try request.method.runningMerge(input)
    }

    /// Tensor `index` from the parts being assembled: as the run that computed it left it,
    /// with factors computed here when this run wants them and that one did not keep them.
    private func assembled(_ index: Int, entry: MergePlan.Entry, from supply: any MergedTensorSupply) throws
        -> ByteRegion
    {
        var supplied = try supply.tensor(entry.name)
        guard supplied.merged.count == entry.shape.elementCount else {
            throw AmalgamError(
                .mismatch,
                "the part holds \(supplied.merged.count) values for a tensor of shape \(entry.shape) (\(entry.shape.elementCount))"
            )
        }
        if request.wantsFactors, entry.kind == .matrix, supplied.factors == nil {
            let base = try AmalgamError.withContext(file: request.baseLabel) { try entry.base.floatValues() }
            try Self.finishReading(entry.base)
            supplied.factors = try Self.factors(
                ofUpdate: supplied.merged, base: base, shape: entry.shape, noiseFloor: supplied.noiseEdge)
        }
        lock.withLock {
            reports[index] = supplied.report
            noiseEdgeList[index] = supplied.noiseEdge
            if keepsFactors, let factors = supplied.factors { factorList[index] = (entry.name, factors) }
        }
        return ElementConversion.region(supplied.merged, as: entry.outputDType)
    }

    /// The method's parameters for tensor `name`: shared ones, then per input (the sources at
    /// `sources`, with the base where it is an input), each resolved as mergekit does (the
    /// model's own setting, then the merge's, then the default) at the tensor's layer fraction.
    private func resolvedParameters(_ name: String, sources: [Int]) throws -> ResolvedParameters {
        let specs = request.method.parameterSpecs
        guard !specs.isEmpty else { return ResolvedParameters() }
        let (given, t) = request.parameters(forTensor: name, layerCount: layerCount)
        var resolved = ResolvedParameters()
        for spec in specs where spec.scope == .shared {
            resolved.shared[spec.name] = try given.resolve(spec, own: nil, tensor: name, t: t, model: "the merge")
        }
        func values(own: [String: ParameterSetting], model: String, isBase: Bool) throws -> [String: ParameterScalar] {
            var values: [String: ParameterScalar] = [:]
            for spec in specs where spec.scope == .input || (spec.scope == .nonBase && !isBase) {
                values[spec.name] = try given.resolve(spec, own: own, tensor: name, t: t, model: model)
            }
            return values
        }
        resolved.inputs = try sources.map { position in
            try values(
                own: position < given.sources.count ? given.sources[position] : [:],
                model: request.sourceLabels[position], isBase: false)
        }
        if request.method.baseIsInput {
            resolved.inputs.insert(
                try values(own: given.base, model: request.baseLabel, isBase: true),
                at: min(request.baseInputPosition ?? 0, resolved.inputs.count))
        }
        return resolved
    }

    /// Source `position`'s task vector of `entry` as factors, when the source is a LoRA
    /// adapter, the tensor a merged matrix and the method one that takes factors.
    private func factoredTaskVector(_ position: Int, entry: MergePlan.Entry) throws -> FactoredTaskVector? {
        guard entry.kind == .matrix, request.method.takesFactoredTaskVectors,
            position < request.factoredSources.count, let source = request.factoredSources[position]
        else { return nil }
        return try AmalgamError.withContext(file: request.sourceLabels[position]) {
            try source.taskVector(of: entry.name, shape: entry.shape)
        }
    }

    /// The noise edge of a linear method's update, from its sources' noise (nil when none is
    /// quantised, the floor is off, or the method is not linear).
    private func updateNoiseEdge(_ noises: [QuantizationNoise?], rows: Int, columns: Int) -> Float? {
        guard let factor = request.noiseFloor.factor, noises.contains(where: { $0 != nil }),
            let gain = request.method.noiseEnergyGain(sourceCount: noises.count)
        else { return nil }
        let energy = gain * noises.reduce(0.0) { $0 + ($1?.energy ?? 0) }
        let combined = QuantizationNoise(encoding: "", energy: energy, rows: rows, columns: columns)
        return Float(factor * combined.spectralEdge)
    }

    /// The report's spectra a method did not record: each source's top-K singular values
    /// and the merged update's, from seeded randomized SVDs of rank K = 10% of min(m, n)
    /// (the values AXIS would pool), so every method's report draws the same charts.
    static func spectra(
        missingFrom fields: [(key: String, value: JSONValue)], deltas: [[Float]], positions: [Int], merged: [Float],
        base: [Float], shape: Shape, seed: UInt64
    ) throws -> [(key: String, value: JSONValue)] {
        let (m, n) = (shape.dimensions[0], shape.dimensions[1])
        let k = MergeMath.rank(count: nil, fraction: AXISMerge.defaultFraction, rows: m, columns: n)
        func values(_ elements: [Float], seed: UInt64) throws -> [Float] {
            try RandomizedSVD.truncated(Matrix(rows: m, columns: n, elements: elements), rank: k, seed: seed)
                .singularValues
        }
        var added: [(key: String, value: JSONValue)] = []
        if !fields.contains(where: { $0.key == "source_singular_values" }) {
            let spectra = try zip(deltas, positions).map { try values($0, seed: seed &+ UInt64($1)) }
            added.append(("source_singular_values", .array(spectra.map { .numbers($0) })))
        }
        if !fields.contains(where: { $0.key == "merged_singular_values" }) {
            let update = zip(merged, base).map { $0 - $1 }
            added.append(("merged_singular_values", .numbers(try values(update, seed: seed &+ 0x5350_4543))))
        }
        return added
    }

    /// The thin SVD of a merged matrix's update `merged - base`, without its zero singular
    /// values (nor those at or below `noiseFloor`, the update's quantisation noise): factors
    /// for methods that do not make their own.
    static func factors(
        ofUpdate merged: [Float], base: [Float], shape: Shape, noiseFloor: Float? = nil
    ) throws -> LowRankFactors {
        let (m, n) = (shape.dimensions[0], shape.dimensions[1])
        let update = Matrix(rows: m, columns: n, elements: zip(merged, base).map { $0 - $1 })
        let svd = try SingularValueDecomposition(update)
        let largest = svd.singularValues.first ?? 0
        // Values below the f32 rounding of the largest carry nothing.
        let cutoff = max(largest * Float(max(m, n)) * Float.ulpOfOne, noiseFloor ?? 0)
        let rank = svd.singularValues.prefix { $0 > cutoff }.count
        var v = Matrix(zeros: n, rank)
        for i in 0..<rank {
            for j in 0..<n { v.elements[j * rank + i] = svd.vt.elements[i * n + j] }
        }
        var u = Matrix(zeros: m, rank)
        for row in 0..<m {
            for i in 0..<rank { u.elements[row * rank + i] = svd.u.elements[row * svd.u.columns + i] }
        }
        return LowRankFactors(u: u, s: Array(svd.singularValues.prefix(rank)), v: v)
    }

    /// Source `source`'s task vector of `tensor` decoded again from its file (for a method
    /// refining what it reduced when the source was first read).
    private func rereadTaskVector(_ tensor: Tensor, source: Int, base: [Float]) throws -> [Float] {
        var values = try AmalgamError.withContext(file: request.sourceLabels[source]) {
            try AmalgamError.withContext(tensor: tensor.name) {
                try tensor.encoding.decodeToFloat(try tensor.loadBytes(), elementCount: tensor.shape.elementCount)
            }
        }
        try Self.finishReading(tensor)
        _ = SumOfSquares.subtracting(base, from: &values)
        return values
    }

    /// Mapped input pages are not needed once decoded: keep them out of the resident set so
    /// peak memory follows the tensors in flight, not the size of the inputs. Fails when the
    /// input was truncated while it was read (the values decoded are not the file's).
    static func finishReading(_ tensor: Tensor) throws {
        try tensor.storage.mappedFile?.checkIntact()
        tensor.storage.mappedRegion?.releaseResidentPages()
    }

    static func checkFinite(_ values: [Float], label: String) throws {
        if let position = FiniteCheck.firstNonFinite(values) {
            throw AmalgamError(
                .invalidFormat, "\(label) holds \(values[position]) at element \(position); merges need finite values")
        }
    }
}
