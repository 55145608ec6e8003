import AmalgamCore
import LinearAlgebra

/// Reads a model's tensors into parameters and decides which train.
final class ParameterStore {
    let graph: ModelGraph
    let mode: TrainingMode
    /// Stage 2: the base model (W0 of the merged matrices) and the merge's factors.
    let base: ModelGraph?
    let factors: FactorSet?
    let count: SingularValueCount
    /// Per matrix with factors, how many singular values train (`SingularValueAllocation`).
    let trainedCounts: [String: Int]
    let start: SingularValueStart
    /// Names of parameters that belong to the head (trainable under `.head`).
    var headNames: Set<String> = []
    private(set) var created: [String: Parameter] = [:]
    /// Matrices whose trainable count was capped at the factors' rank: (name, asked, cap).
    private(set) var capped: [(String, Int, Int)] = []
    private var random: SeededRandom

    init(
        graph: ModelGraph, mode: TrainingMode, base: ModelGraph? = nil, factors: FactorSet? = nil,
        count: SingularValueCount = .fraction(0.1), allocation: SingularValueAllocation = .uniform,
        start: SingularValueStart = .zero, seed: UInt64 = 0
    ) {
        self.graph = graph
        self.mode = mode
        self.base = base
        self.factors = factors
        self.count = count
        self.trainedCounts = factors.map { allocation.counts($0, count: count) } ?? [:]
        self.start = start
        self.random = SeededRandom(seed: seed ^ 0x5EED_4EAD)
    }

    func has(_ name: String) -> Bool { graph[name] != nil }

    /// The tensor's values as a parameter (`[rows, columns]` for 2-D, `1 x n` otherwise).
    func parameter(_ name: String, head: Bool = false) throws -> Parameter {
        if let existing = created[name] { return existing }
        guard let tensor = graph[name] else {
            throw AmalgamError(.notFound, "the model has no tensor '\(name)'")
        }
        let values = try tensor.floatValues()
        let dims = tensor.shape.dimensions
        let rows = dims.count >= 2 ? dims[0] : 1
        let trainable: Bool
        switch mode {
        case .full: trainable = true
        case .head: trainable = head
        case .singularValues: trainable = false
        }
        let parameter = Parameter(
            name: name, shape: dims, value: Matrix(rows: rows, columns: values.count / max(rows, 1), elements: values),
            trainable: trainable)
        if head {
            headNames.insert(name)
            parameter.isHead = true
        }
        created[name] = parameter
        return parameter
    }

    /// A new parameter drawn from U(-bound, bound), seeded (a new classification head).
    func newParameter(_ name: String, shape: [Int], bound: Float) -> Parameter {
        let rows = shape.count >= 2 ? shape[0] : 1
        let total = shape.reduce(1, *)
        var values = [Float](repeating: 0, count: total)
        for index in values.indices { values[index] = (Float(random.nextUnit()) * 2 - 1) * bound }
        let parameter = Parameter(
            name: name, shape: shape, value: Matrix(rows: rows, columns: total / rows, elements: values),
            trainable: true, isNew: true)
        parameter.isHead = true
        headNames.insert(name)
        created[name] = parameter
        return parameter
    }

    /// The linear layer `prefix.weight` (+ `prefix.bias`); in Stage 2 a matrix with factors
    /// becomes singular-value parameterised.
    func linear(_ prefix: String, head: Bool = false) throws -> Linear {
        let weightName = prefix + ".weight"
        let bias = has(prefix + ".bias") ? try parameter(prefix + ".bias", head: head) : nil
        if mode == .singularValues, !head, let factors = factors?[weightName] {
            return try singularLinear(weightName, factors: factors, bias: bias)
        }
        return Linear(weight: try parameter(weightName, head: head), bias: bias)
    }

    private func singularLinear(_ name: String, factors: FactorSet.Factors, bias: Parameter?) throws -> Linear {
        guard let base, let w0 = base[name] else {
            throw AmalgamError(
                .notFound, "the base model has no tensor '\(name)', which the factors file has factors for")
        }
        let dims = w0.shape.dimensions
        guard dims.count == 2, factors.rows == dims[0], factors.columns == dims[1] else {
            throw AmalgamError(
                .mismatch,
                "factors of a \(factors.rows) x \(factors.columns) matrix (rank \(factors.rank)) do not fit the base's \(w0.shape)",
                tensor: name)
        }
        let (m, n, rank) = (dims[0], dims[1], factors.rank)
        let asked = count.resolve(rows: m, columns: n)
        let trained = min(trainedCounts[name] ?? asked, rank)
        if asked > rank { capped.append((name, asked, rank)) }
        let u = Matrix(rows: m, columns: rank, elements: factors.u)
        let v = Matrix(rows: n, columns: rank, elements: factors.v)
        let sValues = factors.s
        var folded = Matrix(rows: m, columns: n, elements: try w0.floatValues())
        if trained < rank {
            let rest = trained..<rank
            try BLAS.gemm(
                u.columns(rest).scalingColumns(by: Array(sValues[rest])), v.columns(rest), transposeB: true, beta: 1,
                into: &folded)
        }
        let weight = Parameter(name: name, shape: dims, value: folded, trainable: false)
        created[name] = weight
        let initial = start == .zero ? [Float](repeating: 0, count: trained) : Array(sValues[0..<trained])
        let singular = Parameter(
            name: name + ".S", shape: [trained], value: Matrix(rows: 1, columns: trained, elements: initial),
            trainable: true)
        return Linear(
            weight: weight, bias: bias,
            singular: .init(
                u: u.columns(0..<trained), v: v.columns(0..<trained), s: singular,
                merged: Array(sValues[0..<trained])))
    }

    func layerNorm(_ prefix: String, epsilon: Float) throws -> LayerNorm {
        LayerNorm(gamma: try parameter(prefix + ".weight"), beta: try parameter(prefix + ".bias"), epsilon: epsilon)
    }
}
