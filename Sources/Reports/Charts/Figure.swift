/// A chart as it appears on a page: a caption, a legend of swatches and the SVG.
enum Figure {
    static func html(
        id: String, title: String, legend: [(name: String, style: SeriesStyle)], svg: String, note: String? = nil,
        small: Bool = false
    ) -> String {
        var html = "<figure class=\"\(small ? "figure small" : "figure")\" data-chart=\"\(HTMLText.escape(id))\">"
        html += "<figcaption>\(HTMLText.escape(title))</figcaption>"
        if !legend.isEmpty { html += Self.legend(legend) }
        html += svg
        if let note { html += "<p class=\"note\">\(HTMLText.escape(note))</p>" }
        return html + "</figure>"
    }

    /// Swatches naming the series (also shown once above a grid of small charts).
    static func legend(_ entries: [(name: String, style: SeriesStyle)]) -> String {
        var html = "<div class=\"legend\">"
        for (name, style) in entries {
            let dash = style.dashed ? " dashed" : ""
            html +=
                "<span class=\"key\"><span class=\"swatch\(dash)\" style=\"border-color:\(style.color)\"></span>\(HTMLText.escape(name))</span>"
        }
        return html + "</div>"
    }
}
