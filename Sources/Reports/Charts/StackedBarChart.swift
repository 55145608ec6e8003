/// Horizontal bars, one per row (a merged matrix), each split into segments (the sources'
/// shares) laid end to end along a linear x axis that starts at zero.
///
/// Each segment is a `<rect class="segment">` with `data-row`, `data-series` and
/// `data-value`; row labels are `<text class="row">`.
struct StackedBarChart {
    var rows: [String]
    var segments: [(name: String, style: SeriesStyle)]
    /// `values[row][segment]`, each zero or more.
    var values: [[Double]]
    var xTitle: String
    /// The axis's end when fixed (1 for fractions); otherwise the largest row's total.
    var maximum: Double?
    var width = 900.0
    static let rowHeight = 15.0

    var legend: [(name: String, style: SeriesStyle)] { segments.map { ($0.name, $0.style) } }

    func svg(id: String) -> String {
        let longest = rows.map(\.count).max() ?? 0
        let left = min(420, 12 + 6.3 * Double(longest))
        let height = 12 + Self.rowHeight * Double(rows.count) + 44
        let frame = ChartFrame(width: width, height: height, left: left, right: 24)
        let totals = values.map { $0.reduce(0, +) }
        let scale = LinearScale(
            covering: totals + [maximum ?? 0], from: frame.plotLeft, to: frame.plotRight, tickCount: 6,
            includingZero: true)
        return SVGCanvas.document(
            width: width, height: height, attributes: [("id", id), ("class", "chart"), ("data-kind", "stacked-bar")]
        ) { canvas in
            AxisDrawing.x(scale, frame: frame, title: xTitle, gridlines: true, into: &canvas)
            for (rowIndex, row) in rows.enumerated() {
                let top = frame.plotTop + Self.rowHeight * Double(rowIndex)
                canvas.element(
                    "text",
                    [
                        ("class", "row"), ("x", HTMLText.pixel(frame.plotLeft - 6)),
                        ("y", HTMLText.pixel(top + Self.rowHeight / 2)), ("dy", "0.32em"), ("text-anchor", "end"),
                        ("font-size", "11"),
                    ], text: row)
                var total = 0.0
                for (segmentIndex, segment) in segments.enumerated() {
                    let value =
                        rowIndex < values.count && segmentIndex < values[rowIndex].count
                        ? values[rowIndex][segmentIndex] : 0
                    let x0 = scale.position(total)
                    total += max(0, value)  // a bar cannot be drawn backwards
                    canvas.group(
                        "rect",
                        [
                            ("class", "segment"), ("data-row", row), ("data-series", segment.name),
                            ("data-value", HTMLText.exact(value)), ("x", HTMLText.pixel(x0)),
                            ("y", HTMLText.pixel(top + 2)), ("width", HTMLText.pixel(scale.position(total) - x0)),
                            ("height", HTMLText.pixel(Self.rowHeight - 4)), ("fill", segment.style.color),
                        ]
                    ) { canvas in
                        canvas.element("title", [], text: "\(row): \(segment.name) \(HTMLText.short(value))")
                    }
                }
            }
        }
    }
}
