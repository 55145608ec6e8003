import AmalgamCore

/// How each base tensor will be produced.
public struct MergePlan: Sendable {
    public enum Kind: String, Sendable {
        /// A 2-D tensor merged by the method (SVD-based methods decompose it).
        case matrix
        /// A tensor merged elementwise or by the mean task vector (1-D, skipped, or N-D).
        case vector
        /// Integer or bool: the base's tensor is kept.
        case copy
    }

    public struct Entry: Sendable {
        public let name: String
        public let shape: Shape
        public let kind: Kind
        public let base: Tensor
        /// The tensor of each source, nil where the source lacks it (with `allowMissing`).
        public let sources: [Tensor?]
        /// The dtype the merged tensor is written in (the base's, f32 for quantised bases).
        public let outputDType: DType
    }

    public let entries: [Entry]
    /// Facts worth telling the user (tensors left out, extra tensors ignored).
    public let notes: [String]

    /// Builds the plan, checking every source against the base: architecture, names,
    /// shapes and dtypes. Errors name the tensor and both files.
    public static func make(_ request: MergeRequest) throws -> MergePlan {
        guard !request.sources.isEmpty else { throw AmalgamError(.usage, "a merge needs at least one --source") }
        let inputs = request.sources.count + (request.method.baseIsInput ? 1 : 0)
        guard request.method.inputCount.contains(inputs) else {
            throw AmalgamError(
                .usage, "\(request.method.name) merges \(request.method.inputCountRule) (given \(inputs))")
        }
        var notes = request.base.notes.map { "the base \(request.baseLabel): \($0)" }
        for (label, source) in zip(request.sourceLabels, request.sources) {
            notes += source.notes.map { "source \(label): \($0)" }
        }
        for (index, source) in request.sources.enumerated() {
            if let expected = request.base.architecture.name, let found = source.architecture.name, expected != found {
                throw AmalgamError(
                    .mismatch,
                    "different architectures: the base \(request.baseLabel) is \(expected), source \(request.sourceLabels[index]) is \(found)"
                )
            }
            for tensor in source.tensors where request.base[tensor.name] == nil {
                guard request.allowMissing else {
                    throw AmalgamError(
                        .mismatch,
                        "source \(request.sourceLabels[index]) has a tensor the base \(request.baseLabel) lacks (pass --allow-missing to ignore it)",
                        tensor: tensor.name)
                }
                notes.append(
                    "tensor '\(tensor.name)' of source \(request.sourceLabels[index]) is not in the base and is ignored"
                )
            }
        }
        var entries: [Entry] = []
        var leftOut: [String] = []
        var differingHeads: [String] = []
        for tensor in request.base.tensors {
            if request.leaveOut.contains(where: { $0.matches(tensor.name) }) {
                leftOut.append(tensor.name)
                continue
            }
            // Classification heads of other tasks have other label counts: what the sources
            // share is merged, the heads are left out.
            if LayerPosition.isClassificationHead(tensor.name),
                request.sources.contains(where: { $0[tensor.name].map { $0.shape != tensor.shape } ?? false })
            {
                differingHeads.append(tensor.name)
                continue
            }
            var present: [Tensor?] = []
            for (index, source) in request.sources.enumerated() {
                guard let match = source[tensor.name] else {
                    guard request.allowMissing else {
                        throw AmalgamError(
                            .mismatch,
                            "missing from source \(request.sourceLabels[index]) but present in the base \(request.baseLabel) (pass --allow-missing to leave that source out of it)",
                            tensor: tensor.name)
                    }
                    notes.append(
                        "tensor '\(tensor.name)' is missing from source \(request.sourceLabels[index]); merged without it"
                    )
                    present.append(nil)
                    continue
                }
                guard match.shape == tensor.shape else {
                    throw AmalgamError(
                        .mismatch,
                        "shape \(tensor.shape) in the base \(request.baseLabel) but \(match.shape) in source \(request.sourceLabels[index])",
                        tensor: tensor.name)
                }
                let baseIsReal = tensor.encoding.dtype.map { $0.isFloatingPoint } ?? true
                let sourceIsReal = match.encoding.dtype.map { $0.isFloatingPoint } ?? true
                guard baseIsReal == sourceIsReal, !(match.encoding.dtype?.isComplex ?? false) else {
                    throw AmalgamError(
                        .mismatch,
                        "dtype \(tensor.encoding) in the base \(request.baseLabel) but \(match.encoding) in source \(request.sourceLabels[index])",
                        tensor: tensor.name)
                }
                present.append(match)
            }
            let kind: Kind
            let outputDType: DType
            switch tensor.encoding {
            case .plain(let dtype) where !dtype.isFloatingPoint:
                guard !dtype.isComplex else {
                    throw AmalgamError(
                        .unsupported, "holds complex values in the base \(request.baseLabel); merges need real numbers",
                        tensor: tensor.name)
                }
                kind = .copy
                outputDType = dtype
            case .plain(let dtype):
                kind = tensor.shape.rank == 2 && !isSkipped(tensor.name, request) ? .matrix : .vector
                outputDType = dtype
            case .quantized:
                kind = tensor.shape.rank == 2 && !isSkipped(tensor.name, request) ? .matrix : .vector
                outputDType = .f32
            }
            entries.append(
                Entry(
                    name: tensor.name, shape: tensor.shape, kind: kind, base: tensor, sources: present,
                    outputDType: outputDType))
        }
        if !leftOut.isEmpty {
            notes.append("left out of the merged model (--leave-out): \(leftOut.joined(separator: ", "))")
        }
        if !differingHeads.isEmpty {
            notes.append(
                "classification heads of other label counts are left out of the merged model: \(differingHeads.joined(separator: ", "))"
            )
        }
        for pattern in request.leaveOut where !request.base.tensors.contains(where: { pattern.matches($0.name) }) {
            notes.append("the leave-out pattern '\(pattern)' matches no tensor of the base")
        }
        for pattern in request.skip where !request.base.tensors.contains(where: { pattern.matches($0.name) }) {
            notes.append("the skip pattern '\(pattern)' matches no tensor of the base")
        }
        if let axis = request.method as? AXISMerge, let count = axis.count {
            let ranks = entries.filter { $0.kind == .matrix }.map {
                min($0.shape.dimensions[0], $0.shape.dimensions[1])
            }
            let short = ranks.filter { $0 < count }
            if !short.isEmpty {
                notes.append(
                    "K = \(count) is more than min(m, n) of \(short.count) of the \(ranks.count) merged matrices (at most \(short.max()!)): those keep every component"
                )
            }
        }
        return MergePlan(entries: entries, notes: notes)
    }

    static func isSkipped(_ name: String, _ request: MergeRequest) -> Bool {
        if request.skipVocabulary && LayerPosition(name: name).role.isVocabularyOrPosition { return true }
        return request.skip.contains { $0.matches(name) }
    }

    /// Peak working memory of a run of `method` with `threads` concurrent tensors: per tensor
    /// the base, every source and the result in f32, plus (for matrices) room for SVD work;
    /// where `method` merges the tensor as its sources are read (`MergeMethod.runningMerge`),
    /// the base, the running sum, one source and the result, with room for one more copy
    /// (the average's f64 sums, a sparsified source): 5 copies whatever the number of sources.
    /// The `threads` largest tensors at once. Inputs are memory-mapped and not counted.
    public func memoryEstimate(threads: Int, method: any MergeMethod) -> Int {
        let perTensor = entries.map { entry -> Int in
            let elements = entry.shape.elementCount
            let collected = entry.sources.count + 2 + (entry.kind == .matrix ? entry.sources.count + 2 : 0)
            return elements * 4 * (entry.kind != .copy && Self.mergesAsRead(entry, method: method) ? 5 : collected)
        }
        return perTensor.sorted(by: >).prefix(max(1, threads)).reduce(0, +)
    }

    /// Whether `method` takes `entry`'s sources as they are read (the executor's rule).
    static func mergesAsRead(_ entry: Entry, method: any MergeMethod) -> Bool {
        // Everything but the values: the method's choice depends on the sources present only.
        guard let input = runningMergeInput(entry, method: method, base: [], seed: 0) else { return false }
        return (try? method.runningMerge(input)) != nil
    }

    /// The input `MergeMethod.runningMerge` is asked with for `entry`: the base and the present
    /// sources' positions, no values. Nil where no running merge applies: a method that takes
    /// LoRA sources as factors, or no source present.
    static func runningMergeInput(
        _ entry: Entry, method: any MergeMethod, base: [Float], seed: UInt64
    ) -> TensorMergeInput? {
        guard !method.takesFactoredTaskVectors else { return nil }
        let present = entry.sources.indices.filter { entry.sources[$0] != nil }
        guard !present.isEmpty else { return nil }
        return TensorMergeInput(
            name: entry.name, shape: entry.shape, base: base, taskVectors: [], sourceIndices: present,
            isMergedMatrix: entry.kind == .matrix, seed: seed)
    }
}
