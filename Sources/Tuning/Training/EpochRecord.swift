import AmalgamCore
import Dispatch
import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// What one epoch did.
public struct EpochRecord: Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var evalLoss: Double?
    public var evalAccuracy: Double?
    public var examplesPerSecond: Double
    /// The learning rate of the epoch's last step.
    public var learningRate: Double
}
