import LinearAlgebra

/// A LoRA adapter as a merge source: the base with `W0 + scale · B A` in each target (computed
/// when a method reads it densely) and the adapter's replacements, plus the same updates as
/// factors for the methods that take them.
struct AdapterSource: FactoredTaskVectorSource {
    let updates: [String: LoRAAdapter.Update]
    let replaced: Set<String>

    /// The source graph and its factored view, for `adapter` applied to `base`.
    static func make(_ adapter: LoRAAdapter, base: ModelGraph) throws -> (graph: ModelGraph, factors: AdapterSource) {
        var updates: [String: LoRAAdapter.Update] = [:]
        for update in adapter.updates {
            guard updates.updateValue(update, forKey: update.target) == nil else {
                throw AmalgamError(.invalidFormat, "two LoRA updates target the same tensor", tensor: update.target)
            }
        }
        let replacements = Dictionary(
            adapter.replacements.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (name, tensor) in replacements where base[name]!.shape != tensor.shape {
            throw AmalgamError(
                .mismatch, "the adapter's tensor has shape \(tensor.shape), the base's \(base[name]!.shape)",
                tensor: name)
        }
        let graph = try base.mapTensors { tensor in
            if let replacement = replacements[tensor.name] { return replacement }
            guard let update = updates[tensor.name] else { return tensor }
            let baseTensor = tensor
            return Tensor(
                name: tensor.name, originalName: tensor.originalName, shape: tensor.shape, encoding: .plain(.f32),
                storage: .deferred {
                    var values = try baseTensor.floatValues()
                    let delta = try Self.factored(update).dense()
                    for i in values.indices { values[i] += delta[i] }
                    return values.withUnsafeBytes { ByteRegion(copying: $0) }
                })
        }
        var source = graph
        source.sourceFormat = adapter.format
        return (source, AdapterSource(updates: updates, replaced: Set(replacements.keys)))
    }

    func taskVector(of name: String, shape: Shape) throws -> FactoredTaskVector? {
        if replaced.contains(name) { return nil }
        guard let update = updates[name] else {
            // Not a target: the adapter leaves it as the base has it.
            let (m, n) = (shape.dimensions[0], shape.dimensions[1])
            return FactoredTaskVector(b: Matrix(zeros: m, 0), a: Matrix(zeros: 0, n))
        }
        return try AmalgamError.withContext(tensor: name) { try Self.factored(update) }
    }

    /// `scale · B A` (or its transpose) as factors in the target's orientation.
    static func factored(_ update: LoRAAdapter.Update) throws -> FactoredTaskVector {
        let b = Matrix(rows: update.b.shape.dimensions[0], columns: update.rank, elements: try update.b.floatValues())
        let a = Matrix(rows: update.rank, columns: update.a.shape.dimensions[1], elements: try update.a.floatValues())
        let scaled = Matrix(rows: b.rows, columns: b.columns, elements: b.elements.map { $0 * update.scale })
        // (s B A)ᵀ = Aᵀ (s B)ᵀ.
        return update.transposed
            ? FactoredTaskVector(b: a.transposed, a: scaled.transposed) : FactoredTaskVector(b: scaled, a: a)
    }
}
