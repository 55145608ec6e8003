import AmalgamCore

/// mergekit's `sce` (select, calculate, erase; FuseChat 2.0): with `select_topk` < 1 only the
/// entries whose variance across the sources is among the top fraction (of the nonzero
/// ones) are kept; each source is weighted by its mean squared task vector (normalised to sum
/// 1); entries whose sign disagrees with the sum's are erased; the weighted mean of the rest
/// is added to the base.
public struct SCEMerge: MergeMethod {
    public init() {}

    public var name: String { "sce" }
    public var settings: [(key: String, value: JSONValue)] { [] }
    public var parameterSpecs: [ParameterSpec] {
        [
            ParameterSpec("select_topk", .shared, default: .number(1)),
            ParameterSpec("int8_mask", .shared, default: .flag(false)),
        ]
    }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        var vectors = input.taskVectors
        let n = input.base.count
        let density = input.parameters.number("select_topk") ?? 1
        if density < 1 {
            var variance = [Float](repeating: 0, count: n)
            let count = Float(vectors.count)
            for i in 0..<n {
                var mean: Float = 0
                for vector in vectors { mean += vector[i] }
                mean /= count
                var sum: Float = 0
                for vector in vectors { sum += (vector[i] - mean) * (vector[i] - mean) }
                variance[i] = sum / count
            }
            let nonzero = variance.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            let k = density <= 0 ? 0 : Int(Double(nonzero) * density)
            let mask = TIESMerge.keepLargest(variance, count: k)
            for v in vectors.indices { for i in 0..<n where mask[i] == 0 { vectors[v][i] = 0 } }
        }
        var weights = vectors.map { vector in vector.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n) }
        let total = weights.reduce(0, +)
        weights = abs(total) < 1e-6 ? weights.map { _ in 1 / Double(weights.count) } : weights.map { $0 / total }
        let factors = weights.map { Float($0) }
        var merged = input.base
        for i in 0..<n {
            let (sum, divisor) = MergeMath.signElected(vectors, at: i, weights: factors, factors: factors)
            merged[i] += sum / max(divisor, 1e-6)
        }
        return TensorMergeResult(merged: merged)
    }
}
