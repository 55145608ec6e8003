import AmalgamCore

/// DARE: drop each task-vector entry with probability `drop` (seeded per tensor and
/// source) and rescale the survivors by `1 / (1 - drop)`, then combine linearly
/// (`W0 + lambda * sum`) or with TIES sign election (`ties`).
public struct DAREMerge: MergeMethod {
    public let drop: Double
    public let lambda: Float
    public let ties: Bool

    public static let defaultDrop = 0.9
    public static let defaultLambda: Float = 1

    public init(drop: Double = defaultDrop, lambda: Float = defaultLambda, ties: Bool = false) {
        self.drop = drop
        self.lambda = lambda
        self.ties = ties
    }

    public var name: String { ties ? "dare_ties" : "dare" }
    public var settings: [(key: String, value: JSONValue)] {
        [("drop", .number("\(drop)")), ("lambda", .number("\(lambda)")), ("ties", .bool(ties))]
    }

    /// Survivors are scaled by `1/(1-p)` and kept with probability `1-p`: `λ²/(1-p)` of each
    /// entry's noise energy on average. Not with TIES election.
    public func noiseEnergyGain(sourceCount: Int) -> Double? {
        ties ? nil : Double(lambda) * Double(lambda) / (1 - drop)
    }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        let dropped = input.taskVectors.indices.map {
            dropping(input.taskVectors[$0], source: input.sourceIndices[$0], seed: input.seed)
        }
        if ties {
            return TensorMergeResult(merged: TIESMerge.electAndMerge(base: input.base, deltas: dropped, lambda: lambda))
        }
        var mixed = [Float](repeating: 0, count: input.base.count)
        for delta in dropped {
            for i in mixed.indices { mixed[i] += delta[i] }
        }
        return TensorMergeResult(merged: zip(input.base, mixed).map { $0 + lambda * $1 })
    }

    /// One task vector with entries dropped (seeded by the tensor and the source) and the
    /// survivors rescaled.
    func dropping(_ delta: [Float], source: Int, seed: UInt64) -> [Float] {
        let scale = Float(1 / (1 - drop))
        var random = SeededRandom(seed: seed ^ (UInt64(source + 1) &* 0x9E37_79B9_7F4A_7C15))
        return delta.map { value in
            let uniform = Double(random.next() >> 11) * 0x1p-53
            return uniform < drop ? 0 : value * scale
        }
    }

    /// The linear form (not TIES election, which needs every source at each entry) as a running sum.
    public func runningMerge(_ input: TensorMergeInput) throws -> (any RunningMerge)? {
        ties ? nil : Running(method: self, input: input)
    }

    struct Running: RunningMerge {
        let method: DAREMerge
        let input: TensorMergeInput
        var mixed: RunningSum
        var position = 0

        init(method: DAREMerge, input: TensorMergeInput) {
            self.method = method
            self.input = input
            mixed = RunningSum(count: input.base.count)
        }

        mutating func add(_ values: [Float], noise: QuantizationNoise?) throws {
            mixed.add(method.dropping(values, source: input.sourceIndices[position], seed: input.seed))
            position += 1
        }

        mutating func finish() throws -> TensorMergeResult {
            TensorMergeResult(merged: mixed.applied(to: input.base, lambda: method.lambda))
        }
    }
}
