import AmalgamCore
import Dispatch
import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// Optimisation settings (defaults: the AXIS paper's Stage 2 setup).
public struct TrainingOptions: Sendable {
    public var epochs: Int = 10
    public var learningRate: Double = 0.1
    /// The classification head's learning rate; nil trains it at `learningRate`.
    public var headLearningRate: Double?
    public var batchSize: Int = 128
    public var seed: UInt64 = 0
    /// AdamW's decoupled weight decay.
    public var weightDecay: Double = 0.1
    /// Gradients are scaled so their global norm is at most this.
    public var clipNorm: Double = 1.0
    /// Stop after this many epochs without a better evaluation accuracy (needs eval data).
    public var earlyStoppingPatience: Int?

    public init() {}
}
