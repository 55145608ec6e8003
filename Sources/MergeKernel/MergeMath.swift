import AmalgamCore
import LinearAlgebra

/// Shared arithmetic.
public enum MergeMath {
    /// `W0 + mean_i Di`, accumulated in f64.
    public static func meanTaskVector(_ input: TensorMergeInput) -> [Float] {
        let count = Double(input.taskVectors.count)
        guard count > 0 else { return input.base }
        var result = [Float](repeating: 0, count: input.base.count)
        for i in 0..<input.base.count {
            var sum = 0.0
            for delta in input.taskVectors { sum += Double(delta[i]) }
            result[i] = Float(Double(input.base[i]) + sum / count)
        }
        return result
    }

    /// TIES's sign election at entry `i`, in f32 in source order as mergekit: the elected
    /// sign is that of `Σ deltas[i]` (+ at 0); over the sources whose entry has that sign, the
    /// sum of their entries (times `factors`, when given) and of their `weights`.
    @inline(__always)
    public static func signElected(
        _ deltas: [[Float]], at i: Int, weights: [Float], factors: [Float]? = nil
    ) -> (sum: Float, divisor: Float) {
        var signSum: Float = 0
        for delta in deltas { signSum += delta[i] }
        let elected: Float = signSum >= 0 ? 1 : -1
        var sum: Float = 0
        var divisor: Float = 0
        for source in deltas.indices {
            let value = deltas[source][i]
            let sign: Float = value > 0 ? 1 : value < 0 ? -1 : 0
            if sign == elected {
                sum += factors.map { value * $0[source] } ?? value
                divisor += weights[source]
            }
        }
        return (sum, divisor)
    }

    /// Frobenius norm accumulated in f64.
    public static func norm(_ values: [Float]) -> Double {
        values.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    /// `K` from a count or a fraction of `min(m, n)` (round half up, at least 1).
    public static func rank(count: Int?, fraction: Double?, rows: Int, columns: Int) -> Int {
        if let count { return max(1, count) }
        let limit = Double(min(rows, columns))
        return max(1, Int((fraction ?? 0.1) * limit + 0.5))
    }

    /// The report entry `entries_below_noise_floor` (per source, the nonzero entries its
    /// floor set to zero: `zeroed`) when any source has a floor; none otherwise.
    public static func entriesBelowNoiseFloor(
        _ input: TensorMergeInput, zeroed: [Int]
    ) -> [(key: String, value: JSONValue)] {
        guard input.noiseFloor != .off, input.noise.contains(where: { $0 != nil }) else { return [] }
        return [("entries_below_noise_floor", .array(zeroed.map { .integer($0) }))]
    }
}
