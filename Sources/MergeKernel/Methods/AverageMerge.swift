import AmalgamCore

/// Weight average: `mean_i Wi`, computed as `W0 + mean_i Di` (f64 accumulation).
public struct AverageMerge: MergeMethod {
    public init() {}
    public var name: String { "average" }
    public var settings: [(key: String, value: JSONValue)] { [] }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        TensorMergeResult(merged: MergeMath.meanTaskVector(input))
    }

    public func noiseEnergyGain(sourceCount: Int) -> Double? { 1 / Double(sourceCount * sourceCount) }

    /// Its f64 sums take two tensors' room: worth it from four sources on.
    public func runningMerge(_ input: TensorMergeInput) throws -> (any RunningMerge)? {
        input.sourceIndices.count >= 4 ? Running(base: input.base) : nil
    }

    /// The same f64 sums taken source by source (one f64 sum per entry: twice the tensor).
    struct Running: RunningMerge {
        let base: [Float]
        var sums: [Double]
        var count = 0

        init(base: [Float]) {
            self.base = base
            sums = [Double](repeating: 0, count: base.count)
        }

        mutating func add(_ values: inout [Float], noise: QuantizationNoise?) throws {
            for i in sums.indices { sums[i] += Double(values[i]) }
            count += 1
        }

        mutating func finish() throws -> TensorMergeResult {
            guard count > 0 else { return TensorMergeResult(merged: base) }
            let divisor = Double(count)
            var merged = [Float](repeating: 0, count: base.count)
            for i in merged.indices { merged[i] = Float(Double(base[i]) + sums[i] / divisor) }
            return TensorMergeResult(merged: merged)
        }
    }
}
