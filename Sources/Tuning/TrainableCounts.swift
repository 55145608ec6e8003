import AmalgamCore

/// Trainable-parameter counts, reported in logs.
public struct TrainableCounts: Sendable {
    /// Every trainable scalar.
    public var total: Int
    /// Of which in the classification head (new or taken from the model).
    public var head: Int
    /// Of which singular values (Stage 2).
    public var singularValues: Int
}
