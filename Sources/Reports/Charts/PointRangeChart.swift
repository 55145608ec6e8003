/// Means with ± error bars, one column of points per group (an N of the benchmark) and one
/// colour per series (a method), side by side within the group: the honest way to compare
/// accuracies that differ by a few points, where bars from zero would hide the differences.
///
/// Each point is a `<circle class="mark">` with `data-series`, `data-group`, `data-value`
/// and `data-error`; its bar is a `<line class="error">` from mean − error to mean + error.
struct PointRangeChart {
    struct Series {
        var name: String
        var style: SeriesStyle
        /// Per group: the mean and its error, or nil where the series has no value.
        var values: [(mean: Double, error: Double)?]
    }

    var groups: [String]
    var yTitle: String
    var xTitle: String
    var series: [Series]
    var width = 720.0
    var height = 320.0

    var legend: [(name: String, style: SeriesStyle)] { series.map { ($0.name, $0.style) } }

    func svg(id: String) -> String {
        let frame = ChartFrame(width: width, height: height)
        let ys = series.flatMap { series in
            series.values.compactMap { $0 }.flatMap { [$0.mean - $0.error, $0.mean + $0.error] }
        }
        let yScale = LinearScale(covering: ys, from: frame.plotBottom, to: frame.plotTop, tickCount: 6)
        let band = (frame.plotRight - frame.plotLeft) / Double(max(1, groups.count))
        return SVGCanvas.document(
            width: width, height: height, attributes: [("id", id), ("class", "chart"), ("data-kind", "point-range")]
        ) { canvas in
            AxisDrawing.y(yScale, frame: frame, title: yTitle, into: &canvas)
            canvas.group("g", [("class", "axis"), ("data-axis", "x"), ("data-scale", "band")]) { canvas in
                for (index, group) in groups.enumerated() {
                    let x = frame.plotLeft + band * (Double(index) + 0.5)
                    canvas.element(
                        "text",
                        [
                            ("class", "band"), ("data-group", group), ("x", HTMLText.pixel(x)),
                            ("y", HTMLText.pixel(frame.plotBottom + 17)), ("text-anchor", "middle"),
                            ("font-size", "11"),
                        ], text: group)
                    if index > 0 {
                        let edge = HTMLText.pixel(frame.plotLeft + band * Double(index))
                        canvas.element(
                            "line",
                            [
                                ("x1", edge), ("x2", edge), ("y1", HTMLText.pixel(frame.plotTop)),
                                ("y2", HTMLText.pixel(frame.plotBottom)), ("stroke", "#f0f0f0"),
                            ])
                    }
                }
                AxisDrawing.xBaseline(frame: frame, title: xTitle, into: &canvas)
            }
            for (groupIndex, group) in groups.enumerated() {
                let present = series.indices.filter {
                    groupIndex < series[$0].values.count && series[$0].values[groupIndex] != nil
                }
                let spread = band * 0.8 / Double(max(1, present.count))
                for (slot, seriesIndex) in present.enumerated() {
                    let item = series[seriesIndex]
                    let value = item.values[groupIndex]!
                    let x = HTMLText.pixel(
                        frame.plotLeft + band * Double(groupIndex) + band * 0.1 + spread * (Double(slot) + 0.5))
                    if value.error > 0 {
                        canvas.element(
                            "line",
                            [
                                ("class", "error"), ("data-series", item.name), ("data-group", group),
                                ("data-low", HTMLText.exact(value.mean - value.error)),
                                ("data-high", HTMLText.exact(value.mean + value.error)), ("x1", x), ("x2", x),
                                ("y1", HTMLText.pixel(yScale.position(value.mean - value.error))),
                                ("y2", HTMLText.pixel(yScale.position(value.mean + value.error))),
                            ] + item.style.strokeAttributes)
                    }
                    canvas.group(
                        "circle",
                        [
                            ("class", "mark"), ("data-series", item.name), ("data-group", group),
                            ("data-value", HTMLText.exact(value.mean)), ("data-error", HTMLText.exact(value.error)),
                            ("cx", x), ("cy", HTMLText.pixel(yScale.position(value.mean))), ("r", "4"),
                            ("fill", item.style.color), ("stroke", "#fff"),
                        ]
                    ) { canvas in
                        canvas.element(
                            "title", [],
                            text:
                                "\(item.name), \(group): \(HTMLText.short(value.mean)) ± \(HTMLText.short(value.error))"
                        )
                    }
                }
            }
        }
    }
}
