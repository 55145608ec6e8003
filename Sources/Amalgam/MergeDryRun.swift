@_exported import MergeKernel
import SafetensorsFormat

/// What a dry run found: the plan, and the files a real run would write.
public struct MergeDryRun: Sendable {
    public var request: MergeRequest
    public var plan: MergePlan
    public var files: [String]
    /// What the outputs would tell the user (dtypes a format lacks...).
    public var warnings: [String]
}
