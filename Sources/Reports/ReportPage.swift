import AmalgamCore

/// One self-contained HTML page (inline SVG, no script, nothing fetched) from Amalgam's JSON
/// reports: merge reports, tuning and training logs, and the transfer benchmark. Several
/// documents make one page with a section each.
///
/// Every chart mark carries its numbers in `data-` attributes (`data-x`, `data-y`,
/// `data-value`, `data-error`) and every axis tick its value, so a checker can compare what is
/// drawn with the JSON and with the tick positions.
public enum ReportPage {
    /// The schemas this page reads.
    public static let schemas = ["amalgam.merge-report/1", "amalgam.tune-log/1", "amalgam.transfer-benchmark/1"]

    /// The page of `documents` (a label such as the file's path, and its JSON), in order.
    /// - Throws: `AmalgamError` (`.invalidFormat`) naming the document whose schema is not
    ///   one of `schemas` or whose fields are not what that schema has.
    public static func html(_ documents: [(label: String, json: JSONValue)]) throws(AmalgamError) -> String {
        guard !documents.isEmpty else { throw AmalgamError(.usage, "no report to render") }
        var titles: [String] = []
        var sections: [(title: String, label: String, render: (inout HTMLPage, String) -> Void)] = []
        for (label, json) in documents {
            let document = ReportJSON(json)
            let section: (title: String, render: (inout HTMLPage, String) -> Void)
            do {
                section = try self.section(document)
            } catch {
                throw error.adding(file: label, tensor: nil)
            }
            titles.append(section.title)
            sections.append((section.title, label, section.render))
        }
        var page = HTMLPage(
            title: sections.count == 1 ? titles[0] : "Amalgam reports: " + titles.joined(separator: "; "))
        for (index, section) in sections.enumerated() {
            if sections.count > 1 { page.heading(section.title, level: 2, id: "report-\(index)") }
            page.paragraph("From \(section.label)", className: "source")
            section.render(&page, "r\(index)")
        }
        return page.html
    }

    private static func section(_ document: ReportJSON) throws(AmalgamError) -> (
        title: String, render: (inout HTMLPage, String) -> Void
    ) {
        let schema = document.member("schema")?.string ?? ""
        switch schema {
        case "amalgam.merge-report/1":
            let page = try MergeReportPage(document)
            return (
                "Merge: \(page.method), \(page.sources.count) source\(page.sources.count == 1 ? "" : "s")", page.render
            )
        case "amalgam.tune-log/1":
            let page = try TrainingLogPage(document)
            let mode = document.member("mode")?.string ?? "?"
            let title =
                mode == "sv" ? "Stage 2 tuning" : mode == "head" ? "Training (head only)" : "Training (every weight)"
            return ("\(title): \(document.member("architecture")?.string ?? "?")", page.render)
        case "amalgam.transfer-benchmark/1":
            let page = try TransferBenchmarkPage(document)
            return (
                "Transfer benchmark: \(document.member("family")?.string ?? "?") zoo (\(document.member("size")?.string ?? "?"))",
                page.render
            )
        default:
            let found = schema.isEmpty ? "it has no 'schema'" : "its schema is '\(schema)'"
            throw AmalgamError(
                .invalidFormat,
                "not an Amalgam report: \(found) (reports are \(schemas.joined(separator: ", ")))")
        }
    }

    /// A path's last component, for legends (the full path is in the facts table).
    static func shortName(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        return trimmed.split(separator: "/").last.map(String.init) ?? path
    }
}
