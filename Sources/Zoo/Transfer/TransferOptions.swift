import AmalgamCore

/// What `amalgam bench transfer` runs and where it writes.
public struct TransferOptions: Sendable {
    /// The zoo folder (`amalgam zoo build`).
    public var zoo: String
    public var settings = TransferProtocol()
    /// Targets to hold out, by task name; nil holds out every task in turn.
    public var targets: [String]?
    public var methods: [TransferMethod] = TransferMethod.standard
    /// One noisy source, and every source pruned (AXIS and the merge baselines, first N).
    public var robustness = true
    /// Fewer sources (AXIS and Average+S2, first N).
    public var sweep = true
    /// The Markdown report; the JSON goes beside it (`.json` for `.md`).
    public var report: String
    /// The reports as an HTML page with charts, if wanted.
    public var reportHTML: String?
    /// Results of finished runs, reused when the benchmark is run again; default: in the zoo.
    public var cache: String?
    public var overwrite = false
    public var progress: any ProgressReporter = SilentProgress()
    public var info: @Sendable (String) -> Void = { _ in }

    public init(zoo: String, report: String) {
        self.zoo = zoo
        self.report = report
    }

    /// The JSON report's path.
    public var jsonReport: String {
        (report.hasSuffix(".md") ? String(report.dropLast(3)) : report) + ".json"
    }

    /// The methods the robustness and sweep runs compare (AXIS's variants too, when asked for).
    static let robustnessMethods: [TransferMethod] = [.axis, .average, .ties, .tsvm] + TransferMethod.variants
    static let sweepMethods: [TransferMethod] = [.axis, .average]
}
