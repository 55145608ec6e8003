import AmalgamCore

/// mergekit's `linear`: `sum w_i W_i / sum w_i` over every input, the base included (it is
/// one of the models), in f32: `acc = fma(W_i, w_i, acc)` in input order, then `acc / sum w` with
/// `normalize` (the default).
public struct LinearMerge: MergeMethod {
    /// The weight of an input that gives none (nil: required, as in mergekit).
    public let defaultWeight: Double?

    public init(defaultWeight: Double? = nil) { self.defaultWeight = defaultWeight }

    public var name: String { "linear" }
    public var settings: [(key: String, value: JSONValue)] { [] }
    public var takesWeights: Bool { true }
    public var baseIsInput: Bool { true }
    public var parameterSpecs: [ParameterSpec] {
        [
            ParameterSpec("weight", .input, default: defaultWeight.map { .number($0) }),
            ParameterSpec("normalize", .shared, default: .flag(true)),
        ]
    }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        let weights = input.weights.indices.map { Float(input.parameters.number("weight", input: $0) ?? 1) }
        var result = [Float](repeating: 0, count: input.base.count)
        for (values, weight) in zip(input.weights, weights) {
            // torch's addcmul_ is fused: one rounding of acc + W * w.
            for i in result.indices { result[i].addProduct(values[i], weight) }
        }
        if input.parameters.flag("normalize") ?? true {
            let denominator = weights.reduce(0, +)
            guard abs(denominator) > 1e-8 else {
                throw AmalgamError(
                    .usage,
                    "linear: the weights sum to 0 for this tensor, so normalizing divides by 0; give other weights or normalize: false"
                )
            }
            for i in result.indices { result[i] /= denominator }
        }
        return TensorMergeResult(merged: result)
    }
}
