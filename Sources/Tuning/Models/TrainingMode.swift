import AmalgamCore
import LinearAlgebra

/// How Stage 2 or ordinary training decides what trains.
public enum TrainingMode: String, Sendable, CaseIterable {
    /// AXIS Stage 2: the top-N singular values of each merged matrix.
    case singularValues = "sv"
    /// The classification head only (a linear probe).
    case head
    /// Every weight.
    case full
}
