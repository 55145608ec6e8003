import AmalgamCore
import LinearAlgebra

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
