@_exported import MergeKernel
import SafetensorsFormat

/// What a merge did.
public struct MergeOutcome: Sendable {
    public var plan: MergePlan
    public var files: [String]
    public var report: JSONValue
}
