@_exported import MergeKernel
import SafetensorsFormat

/// What a dry run found: the plan, and the files a real run would write.
public struct MergeDryRun: Sendable {
    public var request: MergeRequest
    public var plan: MergePlan
    public var files: [String]
    /// What the outputs would tell the user (dtypes a format lacks...).
    public var warnings: [String]
    /// For each quantised source, the rounding noise of its merged matrices.
    public var noise: [SourceNoise] = []

    /// The noise a quantised source brings into the merged matrices (estimated from its block
    /// scales, as the merge report gives it per tensor).
    public struct SourceNoise: Sendable {
        public var source: String
        public var encodings: [String]
        public var matrices: Int
        /// `sqrt(Σ ‖E‖_F²)` over those matrices.
        public var frobenius: Double
        /// The matrix whose noise edge is largest, and that edge.
        public var largestEdge: (tensor: String, value: Double)
    }
}
