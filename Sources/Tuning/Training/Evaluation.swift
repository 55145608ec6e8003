import AmalgamCore
import Dispatch
import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// Loss and accuracy of a model on a dataset.
public struct Evaluation: Sendable {
    public var loss: Double
    public var accuracy: Double
    public var examples: Int
}
