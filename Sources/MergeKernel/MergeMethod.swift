import AmalgamCore
import LinearAlgebra

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
    /// For methods whose update is a linear combination `Σ c_i D_i` (in expectation, for
    /// DARE), how much of each source's rounding-noise energy reaches the update (`c_i²`,
    /// or its expectation), given the number of sources merged: the factors of the update
    /// leave out its singular values below the noise this implies. Nil (the default) for
    /// other methods, whose factors are not floored.
    func noiseEnergyGain(sourceCount: Int) -> Double?
    /// True for methods that read a LoRA source's task vector of a merged matrix as factors
    /// (`TensorMergeInput.factoredTaskVectors`), never as an m x n array. False (the
    /// default): every task vector arrives dense.
    var takesFactoredTaskVectors: Bool { get }
    /// The per-tensor parameters the method reads (`TensorMergeInput.parameters`), mergekit's
    /// `weight`, `density`, `t`, ...; empty (the default) for methods configured once.
    var parameterSpecs: [ParameterSpec] { get }
    /// True for methods that read the inputs' weights (`TensorMergeInput.weights`) instead
    /// of their task vectors (linear, slerp, karcher, model stock). False by default.
    var takesWeights: Bool { get }
    /// True for methods whose inputs include the base (linear and karcher average it with the
    /// sources, as mergekit does with every model listed). False by default.
    var baseIsInput: Bool { get }
    /// How many models the method merges besides a base that is not an input (with
    /// `baseIsInput`, the base counts): checked before any tensor is read, with
    /// `inputCountRule` saying the rule in a message. Default: at least one.
    var inputCount: ClosedRange<Int> { get }
    var inputCountRule: String { get }
    /// For methods that decompose each source's task vector of a merged matrix on its own
    /// (AXIS, TSV-M): that decomposition of one dense task vector, which the executor runs as
    /// each source is read, keeping only the result (`TensorMergeInput.reducedTaskVectors`), so
    /// a tensor's task vectors are never in memory together. `merge` must give the same bytes
    /// from the reductions as from the dense task vectors. Nil (the default): `merge` reads
    /// `taskVectors`.
    func reduce(_ taskVector: Matrix, context: ReductionContext) throws -> ReducedTaskVector?
    /// For methods whose result is a running combination of the sources in source order (task
    /// arithmetic, linear, ...): a merge that takes each source as the executor reads it, so a
    /// tensor costs the base, the running sum and one source whatever the number of sources.
    /// `input` holds everything but the sources' values (`taskVectors`, `weights` and `noise`
    /// empty; `sourceIndices` and `parameters` for every present source). Nil (the default, and
    /// for inputs the running form does not cover): the executor collects every source and calls
    /// `merge`.
    func runningMerge(_ input: TensorMergeInput) throws -> (any RunningMerge)?
}

/// What `MergeMethod.reduce` knows of the tensor and source a task vector belongs to.
public struct ReductionContext: Sendable {
    /// The tensor's seed (`TensorMergeInput.seed`).
    public let seed: UInt64
    /// The source's position among all sources (`TensorMergeInput.sourceIndices`).
    public let sourceIndex: Int
    /// How many sources have this tensor (`TensorMergeInput.taskVectors.count`).
    public let presentSources: Int
    /// `Σ dᵢ²` over the task vector (`SumOfSquares`), when the caller has it already: the
    /// executor sums it as it forms the task vector, so the method need not read it again.
    public let squaredNorm: Double?

    public init(seed: UInt64, sourceIndex: Int, presentSources: Int, squaredNorm: Double? = nil) {
        self.seed = seed
        self.sourceIndex = sourceIndex
        self.presentSources = presentSources
        self.squaredNorm = squaredNorm
    }
}

/// One source's task vector as the method keeps it: its truncated SVD, its squared
/// Frobenius norm (for the report's energy fractions) and, where the SVD is a sketch whose
/// use needs them (AXIS's selection), bounds on the true singular values.
public struct ReducedTaskVector: Sendable {
    public let decomposition: SingularValueDecomposition
    public let squaredNorm: Double
    public let bounds: SpectrumBounds?

    public init(decomposition: SingularValueDecomposition, squaredNorm: Double, bounds: SpectrumBounds? = nil) {
        self.decomposition = decomposition
        self.squaredNorm = squaredNorm
        self.bounds = bounds
    }
}

extension MergeMethod {
    public func noiseEnergyGain(sourceCount: Int) -> Double? { nil }
    public var takesFactoredTaskVectors: Bool { false }
    public var parameterSpecs: [ParameterSpec] { [] }
    public var takesWeights: Bool { false }
    public var baseIsInput: Bool { false }
    public var inputCount: ClosedRange<Int> { 1...Int.max }
    public var inputCountRule: String { "at least one source" }
    public func reduce(_ taskVector: Matrix, context: ReductionContext) throws -> ReducedTaskVector? { nil }
    public func runningMerge(_ input: TensorMergeInput) throws -> (any RunningMerge)? { nil }
}
