import AmalgamCore

/// mergekit's `model_stock` (Jang et al. 2024): with the mean cosine c between the sources'
/// task vectors (over the whole tensor, or per row with `filter_wise`),
/// `t = N c / (1 + (N - 1) c)` (0 where the denominator is about 0) and the result
/// `t * mean(W_i) + (1 - t) * W0`. Needs at least two sources.
public struct ModelStockMerge: MergeMethod {
    public init() {}

    public var name: String { "model_stock" }
    public var inputCount: ClosedRange<Int> { 2...Int.max }
    public var inputCountRule: String { "at least two models besides the base" }
    public var settings: [(key: String, value: JSONValue)] { [] }
    public var takesWeights: Bool { true }
    public var parameterSpecs: [ParameterSpec] { [ParameterSpec("filter_wise", .shared, default: .flag(false))] }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        let sources = input.weights
        guard sources.count >= 2 else {
            throw AmalgamError(
                .usage, "model_stock needs at least two sources besides the base (given \(sources.count))")
        }
        let base = input.base
        let n = base.count
        let filterWise = input.parameters.flag("filter_wise") ?? false
        let width = filterWise && input.shape.rank >= 2 ? input.shape.dimensions.last! : n
        let offsets = sources.map { zip($0, base).map { $0 - $1 } }
        let count = Float(sources.count)
        var merged = [Float](repeating: 0, count: n)
        for start in stride(from: 0, to: n, by: max(1, width)) {
            let range = start..<min(n, start + max(1, width))
            var cosines = 0.0
            var pairs = 0
            for a in offsets.indices {
                for b in offsets.indices where b > a {
                    var aa = 0.0
                    var bb = 0.0
                    var ab = 0.0
                    for i in range {
                        aa += Double(offsets[a][i]) * Double(offsets[a][i])
                        bb += Double(offsets[b][i]) * Double(offsets[b][i])
                        ab += Double(offsets[a][i]) * Double(offsets[b][i])
                    }
                    cosines += min(1, max(-1, ab / max(aa.squareRoot() * bb.squareRoot(), 1e-6)))
                    pairs += 1
                }
            }
            let cosine = Float(cosines / Double(pairs))
            let denominator = 1 + (count - 1) * cosine
            let t: Float = abs(denominator) < 1e-6 ? 0 : count * cosine / denominator
            for i in range {
                var sum: Float = 0
                for source in sources { sum += source[i] }
                merged[i] = t * (sum / count) + (1 - t) * base[i]
            }
        }
        return TensorMergeResult(merged: merged)
    }
}
