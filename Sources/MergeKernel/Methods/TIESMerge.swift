import AmalgamCore

/// TIES merging, exactly as mergekit computes it in f32:
/// 1. trim: keep the `floor(density * n)` largest-magnitude entries of each task vector
///    (after a quantised source's entries at or below its rounding noise are set to zero);
/// 2. elect: per entry, sign = +1 if the sum of the trimmed values is >= 0, else -1;
/// 3. disjoint mean: average the trimmed values whose sign equals the elected one (an
///    entry no source agrees on gets 0);
/// 4. `W0 + lambda * mean`.
public struct TIESMerge: MergeMethod {
    public let density: Double
    public let lambda: Float

    public static let defaultDensity = 0.2
    public static let defaultLambda: Float = 1

    public init(density: Double = defaultDensity, lambda: Float = defaultLambda) {
        self.density = density
        self.lambda = lambda
    }

    public var name: String { "ties" }
    public var settings: [(key: String, value: JSONValue)] {
        [("density", .number("\(density)")), ("lambda", .number("\(lambda)"))]
    }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        let floored = input.taskVectorsAboveEntryFloors
        let trimmed = floored.vectors.map { Self.keepLargest($0, count: Int(density * Double($0.count))) }
        return TensorMergeResult(
            merged: Self.electAndMerge(base: input.base, deltas: trimmed, lambda: lambda),
            details: MergeMath.entriesBelowNoiseFloor(input, zeroed: floored.zeroed))
    }

    /// `values` with all but the `count` largest magnitudes set to zero (ties at the
    /// threshold resolved by index order).
    static func keepLargest(_ values: [Float], count: Int) -> [Float] {
        guard count < values.count else { return values }
        guard count > 0 else { return [Float](repeating: 0, count: values.count) }
        let threshold = kthLargestMagnitude(values, k: count)
        var above = values.reduce(0) { $0 + (abs($1) > threshold ? 1 : 0) }
        var result = values
        for i in result.indices {
            let magnitude = abs(result[i])
            if magnitude > threshold { continue }
            if magnitude == threshold && above < count {
                above += 1
                continue
            }
            result[i] = 0
        }
        return result
    }

    /// The k-th largest |value| (k >= 1), by quickselect on a copy: O(n) expected.
    static func kthLargestMagnitude(_ values: [Float], k: Int) -> Float {
        var items = values.map { abs($0) }
        var low = 0
        var high = items.count - 1
        let target = k - 1  // position in descending order
        var random = SeededRandom(seed: UInt64(items.count))
        while low < high {
            let pivot = items[low + Int(random.next() % UInt64(high - low + 1))]
            var i = low
            var j = high
            while i <= j {
                while items[i] > pivot { i += 1 }
                while items[j] < pivot { j -= 1 }
                if i <= j {
                    items.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            if target <= j { high = j } else if target >= i { low = i } else { return items[target] }
        }
        return items[target]
    }

    /// Sign election and disjoint mean over `deltas` (already trimmed or dropped), in f32
    /// running sums in source order, as mergekit does with unit weights.
    static func electAndMerge(base: [Float], deltas: [[Float]], lambda: Float) -> [Float] {
        var merged = base
        let ones = [Float](repeating: 1, count: deltas.count)
        for i in base.indices {
            var (mixed, divisor) = MergeMath.signElected(deltas, at: i, weights: ones)
            if divisor == 0 { divisor = 1 }
            merged[i] = base[i] + lambda * (mixed / divisor)
        }
        return merged
    }
}
