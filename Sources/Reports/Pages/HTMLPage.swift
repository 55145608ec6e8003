/// A self-contained HTML page: inline CSS and SVG, no script, and a Content-Security-Policy
/// that forbids fetching anything, so the page shows the same offline, from an e-mail or
/// from a CI artefact.
struct HTMLPage {
    var title: String
    private var body = ""

    init(title: String) { self.title = title }

    mutating func heading(_ text: String, level: Int, id: String? = nil) {
        let anchor = id.map { " id=\"\(HTMLText.escape($0))\"" } ?? ""
        body += "<h\(level)\(anchor)>\(HTMLText.escape(text))</h\(level)>\n"
    }

    mutating func paragraph(_ text: String, className: String? = nil) {
        let attribute = className.map { " class=\"\($0)\"" } ?? ""
        body += "<p\(attribute)>\(HTMLText.escape(text))</p>\n"
    }

    /// A two-column table of labelled facts.
    mutating func facts(_ rows: [(String, String)]) {
        body += "<table class=\"facts\"><tbody>"
        for (label, value) in rows {
            body += "<tr><th scope=\"row\">\(HTMLText.escape(label))</th><td>\(HTMLText.escape(value))</td></tr>"
        }
        body += "</tbody></table>\n"
    }

    /// A data table; columns in `numeric` are right-aligned.
    mutating func table(id: String? = nil, header: [String], rows: [[String]], numeric: Set<Int> = []) {
        let anchor = id.map { " id=\"\(HTMLText.escape($0))\"" } ?? ""
        body += "<div class=\"scroll\"><table class=\"data\"\(anchor)><thead><tr>"
        for (index, cell) in header.enumerated() {
            body += "<th\(numeric.contains(index) ? " class=\"num\"" : "")>\(HTMLText.escape(cell))</th>"
        }
        body += "</tr></thead><tbody>"
        for row in rows {
            body += "<tr>"
            for (index, cell) in row.enumerated() {
                body += "<td\(numeric.contains(index) ? " class=\"num\"" : "")>\(HTMLText.escape(cell))</td>"
            }
            body += "</tr>"
        }
        body += "</tbody></table></div>\n"
    }

    /// Markup made by `Figure` (already escaped).
    mutating func figure(_ html: String) { body += html + "\n" }

    /// Small charts side by side, as many per row as fit, under one legend for them all.
    mutating func grid(_ figures: [String], legend: [(name: String, style: SeriesStyle)]) {
        body += Figure.legend(legend) + "<div class=\"grid\">" + figures.joined() + "</div>\n"
    }

    var html: String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="generator" content="amalgam">
        <title>\(HTMLText.escape(title))</title>
        <style>\(Self.style)</style>
        </head>
        <body>
        <main>
        <h1>\(HTMLText.escape(title))</h1>
        \(body)</main>
        </body>
        </html>

        """
    }

    static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif;color:#1b1b1b;background:#fff;\
        margin:0;line-height:1.4}main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}\
        h1{font-size:1.6em;margin:.4em 0}h2{font-size:1.3em;margin:1.6em 0 .4em;border-bottom:1px solid #ddd;\
        padding-bottom:.2em}h3{font-size:1.05em;margin:1.2em 0 .3em}p.note,p.source{color:#555;font-size:.9em}\
        table{border-collapse:collapse;font-size:.9em}table.facts th{text-align:left;font-weight:600;\
        padding:2px 16px 2px 0;vertical-align:top}table.facts td{padding:2px 0;word-break:break-all}\
        table.data th,table.data td{border-bottom:1px solid #e5e5e5;padding:3px 10px;text-align:left}\
        table.data th{background:#f6f6f6;position:sticky;top:0}.num{text-align:right!important;\
        font-variant-numeric:tabular-nums}.scroll{max-height:480px;overflow:auto;margin:.5em 0}\
        figure{margin:1em 0}figure.small{margin:.3em}figcaption{font-weight:600;font-size:.95em;margin-bottom:.2em}\
        figure.small figcaption{font-weight:500;font-size:.8em;word-break:break-all}\
        .legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:.85em;margin:.2em 0 .3em}\
        .key{display:inline-flex;align-items:center;gap:5px}.swatch{display:inline-block;width:18px;height:0;\
        border-top:3px solid}.swatch.dashed{border-top-style:dashed}\
        .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:4px 12px}\
        svg.chart{max-width:100%;height:auto;font-family:inherit;overflow:visible}svg text{fill:#1b1b1b}
        """
}
