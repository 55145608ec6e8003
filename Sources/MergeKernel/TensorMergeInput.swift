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
