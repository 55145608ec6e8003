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
}
