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
        var running = Running(input, inputCount: input.weights.count, basePosition: nil)
        for values in input.weights { running.addInput(values) }
        return try running.finish()
    }

    public func runningMerge(_ input: TensorMergeInput) throws -> (any RunningMerge)? {
        Running(input, inputCount: input.sourceIndices.count + 1, basePosition: input.baseInputPosition ?? 0)
    }

    /// The weighted sum over inputs in input order; the base joins it at its position.
    struct Running: RunningMerge {
        let base: [Float]
        let basePosition: Int?
        let weights: [Float]
        let normalize: Bool
        var result: [Float]
        var position = 0

        /// - Parameter basePosition: where the base joins the sources `add` is given (nil when
        ///   the inputs come with the base among them).
        init(_ input: TensorMergeInput, inputCount: Int, basePosition: Int?) {
            base = input.base
            self.basePosition = basePosition
            weights = (0..<inputCount).map { Float(input.parameters.number("weight", input: $0) ?? 1) }
            normalize = input.parameters.flag("normalize") ?? true
            result = [Float](repeating: 0, count: input.base.count)
        }

        /// The next input's values, the base among them (`merge` passes it in `weights`).
        mutating func addInput(_ values: [Float]) {
            let weight = weights[position]
            result.withUnsafeMutableBufferPointer { result in
                values.withUnsafeBufferPointer { values in
                    // torch's addcmul_ is fused: one rounding of acc + W * w.
                    for i in result.indices { result[i].addProduct(values[i], weight) }
                }
            }
            position += 1
        }

        /// A source's values (the base is added before it when its turn comes).
        mutating func add(_ values: inout [Float], noise: QuantizationNoise?) throws {
            if position == basePosition { addInput(base) }
            addInput(values)
        }

        mutating func finish() throws -> TensorMergeResult {
            if position == basePosition { addInput(base) }
            if normalize {
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
}
