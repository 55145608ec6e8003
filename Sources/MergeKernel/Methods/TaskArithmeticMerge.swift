import AmalgamCore

/// Task arithmetic: `W0 + lambda * sum_i (Wi - W0)`, in f32 with mergekit's operation order
/// (differences, then a running sum over sources, then the scale, then the base).
public struct TaskArithmeticMerge: MergeMethod {
    public let lambda: Float
    /// Lambda for one source and for several (the sum of many task vectors is scaled down).
    public static func defaultLambda(sourceCount: Int) -> Float { sourceCount == 1 ? 1 : 0.3 }

    public init(lambda: Float) { self.lambda = lambda }
    public var name: String { "task_arithmetic" }
    public var settings: [(key: String, value: JSONValue)] { [("lambda", .number("\(lambda)"))] }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        var running = Running(base: input.base, lambda: lambda)
        for var delta in input.taskVectors { try running.add(&delta, noise: nil) }
        return try running.finish()
    }

    public func noiseEnergyGain(sourceCount: Int) -> Double? { Double(lambda) * Double(lambda) }

    public func runningMerge(_ input: TensorMergeInput) throws -> (any RunningMerge)? {
        Running(base: input.base, lambda: lambda)
    }

    /// The sum taken source by source (`merge` feeds it every source at once).
    struct Running: RunningMerge {
        let base: [Float]
        let lambda: Float
        var mixed: RunningSum

        init(base: [Float], lambda: Float) {
            self.base = base
            self.lambda = lambda
            mixed = RunningSum(count: base.count)
        }

        mutating func add(_ values: inout [Float], noise: QuantizationNoise?) throws { mixed.add(values) }
        mutating func finish() throws -> TensorMergeResult {
            TensorMergeResult(merged: mixed.applied(to: base, lambda: lambda))
        }
    }
}
