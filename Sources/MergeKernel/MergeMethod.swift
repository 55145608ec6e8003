import AmalgamCore
import LinearAlgebra

/// Everything a method needs to merge one tensor: the base weights `W0` and the task
/// vectors `Di = Wi - W0` (f32, subtracted as mergekit does) of each source that has it.
/// Only task vectors are kept, not the sources' weights: one copy per source in memory.
public struct TensorMergeInput: Sendable {
    public let name: String
    public let shape: Shape
    public let base: [Float]
    /// `Wi - W0` for every source present, in source order.
    public let taskVectors: [[Float]]
    /// Positions of those sources among all sources (for reports and seeds).
    public let sourceIndices: [Int]
    /// True for 2-D tensors not on the skip list: SVD-based methods work on these; other
    /// tensors get the mean task vector.
    public let isMergedMatrix: Bool
    /// A seed derived from the run's seed and the tensor name (stable across runs).
    public let seed: UInt64

    public init(
        name: String, shape: Shape, base: [Float], taskVectors: [[Float]], sourceIndices: [Int], isMergedMatrix: Bool,
        seed: UInt64
    ) {
        self.name = name
        self.shape = shape
        self.base = base
        self.taskVectors = taskVectors
        self.sourceIndices = sourceIndices
        self.isMergedMatrix = isMergedMatrix
        self.seed = seed
    }

    /// An input from the sources' weights (task vectors computed here).
    public init(
        name: String, shape: Shape, base: [Float], sources: [[Float]], sourceIndices: [Int], isMergedMatrix: Bool,
        seed: UInt64
    ) {
        self.init(
            name: name, shape: shape, base: base,
            taskVectors: sources.map { source in zip(source, base).map { $0 - $1 } },
            sourceIndices: sourceIndices, isMergedMatrix: isMergedMatrix, seed: seed)
    }

    public var rows: Int { shape.dimensions.first ?? 1 }
    public var columns: Int { shape.rank == 2 ? shape.dimensions[1] : shape.elementCount }
}

/// Low-rank factors `D = U diag(S) V^T` of a merged update (`U` is m x r, `V` is n x r).
public struct LowRankFactors: Sendable {
    public let u: Matrix
    public let s: [Float]
    public let v: Matrix
}

/// A merged tensor, its optional factors, and method-specific report entries.
public struct TensorMergeResult: Sendable {
    public var merged: [Float]
    public var factors: LowRankFactors?
    /// Extra facts for the report (`components_per_source`, `kept_energy`...).
    public var details: [(key: String, value: JSONValue)]

    public init(merged: [Float], factors: LowRankFactors? = nil, details: [(key: String, value: JSONValue)] = []) {
        self.merged = merged
        self.factors = factors
        self.details = details
    }
}

/// A way to merge sources into a base, one tensor at a time. Implementations are values
/// with no mutable state: the executor calls `merge` from several threads at once.
///
/// Contract: `merge` returns `input.base.count` values; it must be deterministic for a
/// given input (randomness comes from `input.seed`); it throws `AmalgamError` for inputs
/// it cannot handle.
public protocol MergeMethod: Sendable {
    /// `axis`, `ties`, ...
    var name: String { get }
    /// The method's settings, for the report.
    var settings: [(key: String, value: JSONValue)] { get }
    func merge(_ input: TensorMergeInput) throws -> TensorMergeResult
}

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
}
