import AmalgamCore
import LinearAlgebra

/// Everything a method needs to merge one tensor: the base weights `W0` and the task
/// vectors `Di = Wi - W0` (f32, subtracted as mergekit does) of each source that has it.
/// Only task vectors are kept, not the sources' weights: one copy per source in memory.
public struct TensorMergeInput: Sendable {
    public let name: String
    public let shape: Shape
    public let base: [Float]
    /// `Wi - W0` for every source present, in source order; empty where the source's task
    /// vector is in `factoredTaskVectors` instead.
    public let taskVectors: [[Float]]
    /// Per present source, its task vector as factors `B A` (LoRA adapters), given only to
    /// methods that take them (`MergeMethod.takesFactoredTaskVectors`); empty otherwise.
    public var factoredTaskVectors: [FactoredTaskVector?] = []
    /// Per present source, its dense task vector as `MergeMethod.reduce` reduced it when the
    /// source was read (`taskVectors` holds an empty array there); empty when none was.
    public var reducedTaskVectors: [ReducedTaskVector?] = []
    /// Reads present source `position`'s dense task vector again from its file, for a method
    /// that must refine a reduction; nil where the executor offers none.
    public var taskVectorReader: (@Sendable (_ position: Int) throws -> [Float])? = nil
    /// For methods that take weights (`MergeMethod.takesWeights`): each input's values, in
    /// input order (the base first among them when `MergeMethod.baseIsInput`, at
    /// `baseInputPosition`); `taskVectors` is empty then.
    public var weights: [[Float]] = []
    /// Where the base sits among `weights` (nil when it is not an input).
    public var baseInputPosition: Int? = nil
    /// The method's per-tensor parameters, resolved for this tensor: per input in the order
    /// of `weights` (methods that take weights) or of `taskVectors` (the others).
    public var parameters = ResolvedParameters()
    /// Positions of those sources among all sources (for reports and seeds).
    public let sourceIndices: [Int]
    /// True for 2-D tensors not on the skip list: SVD-based methods work on these; other
    /// tensors get the mean task vector.
    public let isMergedMatrix: Bool
    /// A seed derived from the run's seed and the tensor name (stable across runs).
    public let seed: UInt64
    /// The rounding noise of each present source that is quantised (nil for the others),
    /// in source order; empty when none is.
    public var noise: [QuantizationNoise?] = []
    /// How far below their noise quantised sources' components and entries are dropped.
    public var noiseFloor: NoiseFloor = .off

    /// The singular value at or below which source `position`'s components are noise.
    public func singularValueFloor(_ position: Int) -> Float? {
        guard let factor = noiseFloor.factor, position < noise.count, let noise = noise[position] else { return nil }
        return Float(factor * noise.spectralEdge)
    }

    /// The magnitude at or below which source `position`'s task-vector entries are noise.
    public func entryFloor(_ position: Int) -> Float? {
        guard let factor = noiseFloor.factor, position < noise.count, let noise = noise[position] else { return nil }
        return Float(factor * noise.entryBound)
    }

    /// Sets the entries of source `position`'s task vector at or below the source's entry floor
    /// to zero, in place; returns how many nonzero entries that zeroed (0 without a floor).
    public func zeroEntriesBelowFloor(_ delta: inout [Float], position: Int) -> Int {
        guard let floor = entryFloor(position) else { return 0 }
        var zeroed = 0
        delta.withUnsafeMutableBufferPointer { delta in
            for i in delta.indices where abs(delta[i]) <= floor {
                if delta[i] != 0 { zeroed += 1 }
                delta[i] = 0
            }
        }
        return zeroed
    }

    /// The task vectors with entries at or below each source's entry floor set to zero, and per
    /// source how many nonzero entries that zeroed.
    public var taskVectorsAboveEntryFloors: (vectors: [[Float]], zeroed: [Int]) {
        var zeroed: [Int] = []
        let vectors = taskVectors.enumerated().map { position, delta in
            var delta = delta
            zeroed.append(zeroEntriesBelowFloor(&delta, position: position))
            return delta
        }
        return (vectors, zeroed)
    }

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

    /// Source `position`'s task vector in factored form, when it came as one.
    public func factored(_ position: Int) -> FactoredTaskVector? {
        position < factoredTaskVectors.count ? factoredTaskVectors[position] : nil
    }

    /// Source `position`'s task vector as the method reduced it, when the executor did.
    public func reduced(_ position: Int) -> ReducedTaskVector? {
        position < reducedTaskVectors.count ? reducedTaskVectors[position] : nil
    }

    /// Source `position`'s dense task vector: `taskVectors`' entry, or read again through
    /// `taskVectorReader` where the source was reduced as it was read; nil when neither can.
    public func denseTaskVector(_ position: Int) throws -> [Float]? {
        if position < taskVectors.count, !taskVectors[position].isEmpty { return taskVectors[position] }
        if factored(position) != nil { return nil }
        return try taskVectorReader?(position)
    }

    public var rows: Int { shape.dimensions.first ?? 1 }
    public var columns: Int { shape.rank == 2 ? shape.dimensions[1] : shape.elementCount }
}
