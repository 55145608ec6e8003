import AmalgamCore

/// One tensor's merge taken source by source as the executor reads the sources
/// (`MergeMethod.runningMerge`): a tensor's sources are never in memory together, so its peak
/// is the base, the method's running sum and one source, whatever the number of sources.
///
/// Contract: `add` is called once per present source, in source order, with that source's
/// task vector `Wi - W0` (or, for methods that take weights, its weights `Wi`) and its rounding
/// noise (nil when unquantised); then `finish` once. The result's bytes equal those of
/// `MergeMethod.merge` on the same inputs.
public protocol RunningMerge {
    /// Takes the next source. `values` is the caller's buffer, lent as scratch: the merge may
    /// change it in place (no copy of the tensor per source); its contents afterwards are
    /// unspecified.
    mutating func add(_ values: inout [Float], noise: QuantizationNoise?) throws
    mutating func finish() throws -> TensorMergeResult
}

/// `Σ dᵢ` over sources in source order, in f32 (as task arithmetic and its relatives sum),
/// for running merges.
struct RunningSum {
    private(set) var sum: [Float]

    init(count: Int) { sum = [Float](repeating: 0, count: count) }

    mutating func add(_ values: [Float]) {
        sum.withUnsafeMutableBufferPointer { sum in
            values.withUnsafeBufferPointer { values in
                for i in sum.indices { sum[i] += values[i] }
            }
        }
    }

    /// The sum, moved out (the running sum is empty afterwards).
    mutating func takeSum() -> [Float] {
        defer { sum = [] }
        return sum
    }

    /// `W0 + lambda * sum`, formed in the sum's own buffer (no further copy of the tensor).
    mutating func applied(to base: [Float], lambda: Float) -> [Float] {
        var merged = sum
        sum = []
        merged.withUnsafeMutableBufferPointer { merged in
            base.withUnsafeBufferPointer { base in
                for i in merged.indices { merged[i] = base[i] + lambda * merged[i] }
            }
        }
        return merged
    }
}
