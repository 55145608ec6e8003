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
        guard ties else {
            var running = Running(method: self, input: input)
            for var delta in input.taskVectors { try running.add(&delta, noise: nil) }
            return try running.finish()
        }
        let dropped = input.taskVectors.indices.map { position in
            var delta = input.taskVectors[position]
            dropEntries(&delta, source: input.sourceIndices[position], seed: input.seed)
            return delta
        }
        return TensorMergeResult(merged: TIESMerge.electAndMerge(base: input.base, deltas: dropped, lambda: lambda))
    }

    /// Drops entries of one task vector in place (seeded by the tensor and the source) and
    /// rescales the survivors.
    func dropEntries(_ delta: inout [Float], source: Int, seed: UInt64) {
        let scale = Float(1 / (1 - drop))
        var random = SeededRandom(seed: seed ^ (UInt64(source + 1) &* 0x9E37_79B9_7F4A_7C15))
        for i in delta.indices {
            let uniform = Double(random.next() >> 11) * 0x1p-53
            delta[i] = uniform < drop ? 0 : delta[i] * scale
        }
    }

    /// The linear form (not TIES election, which needs every source at each entry) as a running
    /// sum (`merge` feeds it every source at once).
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

        mutating func add(_ values: inout [Float], noise: QuantizationNoise?) throws {
            method.dropEntries(&values, source: input.sourceIndices[position], seed: input.seed)
            mixed.add(values)
            position += 1
        }

        mutating func finish() throws -> TensorMergeResult {
            TensorMergeResult(merged: mixed.applied(to: input.base, lambda: method.lambda))
        }
    }
}
