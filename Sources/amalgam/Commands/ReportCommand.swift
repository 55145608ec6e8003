import Amalgam
import Reports

/// `amalgam report REPORT.json... -o report.html`: Amalgam's JSON reports as one HTML page.
struct ReportCommand: Command {
    static let name = "report"
    static let summary = "Render merge reports, training logs and benchmark JSON as one self-contained HTML page."
    static let positionals = ["REPORT.json..."]
    static let requiredSettings: [Setting] = [.reportPage]
    static let settings: [Setting] = [.reportPage, .force]
    static let discussion = """
        Reads the JSON that merge --report, tune and train (their log) and bench transfer write, and
        draws them on one page: for a merge, each source's and the merged update's singular spectra
        per matrix (log scale), the components of the top K each source contributed, the energy
        kept and the task-vector norms per layer; for training, the loss and accuracy curves and
        Stage 2's trained singular values against the merged ones; for the benchmark, accuracy by
        method and N with error bars, AXIS's paired differences and the source-count sweep. The
        page needs nothing else: inline SVG, no script, nothing fetched.

        examples:
          amalgam report merge-report.json -o report.html
        """

    let paths: [String]
    let output: String
    let overwrite: Bool

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        paths = arguments.positionals
        guard !paths.isEmpty else { throw AmalgamError(.usage, "missing REPORT.json") }
        output = try arguments.values.required(.reportPage)
        overwrite = arguments.values.flag(.force)
    }

    func run() throws {
        let page = try Amalgam.renderReports(paths, to: output, overwrite: overwrite)
        Terminal.out("wrote \(page) (\(paths.count) report\(paths.count == 1 ? "" : "s"))")
    }
}
