/// Reports nothing.
public struct SilentProgress: ProgressReporter {
    public init() {}
    public func begin(label: String, total: Int64) {}
    public func advance(by units: Int64) {}
    public func finish() {}
}
