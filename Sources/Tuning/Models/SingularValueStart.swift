import AmalgamCore
import LinearAlgebra

/// Where Stage 2's singular values start.
public enum SingularValueStart: String, Sendable {
    /// At zero: `W(0) = W0` plus the frozen components (the authors' reference).
    case zero
    /// At the merged values: `W = W0 + Dm` before any step.
    case merged
}
