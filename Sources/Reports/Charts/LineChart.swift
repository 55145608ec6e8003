/// Series of (x, y) points joined by lines, on a linear or logarithmic y axis, with
/// optional error bars.
///
/// Each series is one `<polyline class="series">` whose `data-x` and `data-y` hold the
/// plotted values exactly (points a log axis cannot show are left out and counted in
/// `data-omitted`); error bars are `<line class="error">` with `data-low` and `data-high`.
struct LineChart {
    struct Point {
        var x: Double
        var y: Double
        /// Half the error bar's length (a standard deviation), if any.
        var error: Double? = nil
    }

    struct Series {
        var name: String
        var style: SeriesStyle
        var points: [Point]
    }

    var xTitle: String
    var yTitle: String
    var series: [Series]
    var logY = false
    var yIncludesZero = false
    var width = 640.0
    var height = 300.0
    /// A horizontal dashed line at this y with its label (a reference such as a baseline).
    var reference: (value: Double, label: String)?

    var legend: [(name: String, style: SeriesStyle)] { series.map { ($0.name, $0.style) } }

    func svg(id: String) -> String {
        let frame = ChartFrame(width: width, height: height)
        var xs = series.flatMap { $0.points.map(\.x) }.filter(\.isFinite)
        if series.contains(where: { $0.points.contains { $0.error != nil } }), let low = xs.min(), let high = xs.max() {
            // Room beside the first and last error bars, off the axes.
            let pad = max((high - low) / 20, 0.01)
            xs += [low - pad, high + pad]
        }
        var ys = series.flatMap { series in
            series.points.flatMap { point in
                [point.y] + (point.error.map { [point.y - $0, point.y + $0] } ?? [])
            }
        }
        if let reference { ys.append(reference.value) }
        let xScale = LinearScale(
            covering: xs, from: frame.plotLeft, to: frame.plotRight, tickCount: 6,
            integers: series.allSatisfy { $0.points.allSatisfy { $0.x == $0.x.rounded() } })
        let yScale: any AxisScale =
            logY
            ? LogScale(covering: ys, from: frame.plotBottom, to: frame.plotTop)
            : LinearScale(
                covering: ys, from: frame.plotBottom, to: frame.plotTop, tickCount: 5, includingZero: yIncludesZero)
        return SVGCanvas.document(
            width: width, height: height, attributes: [("id", id), ("class", "chart"), ("data-kind", "line")]
        ) { canvas in
            AxisDrawing.y(yScale, frame: frame, title: yTitle, into: &canvas)
            AxisDrawing.x(xScale, frame: frame, title: xTitle, into: &canvas)
            if let reference, yScale.accepts(reference.value) {
                let y = HTMLText.pixel(yScale.position(reference.value))
                canvas.element(
                    "line",
                    [
                        ("class", "reference"), ("data-value", HTMLText.exact(reference.value)),
                        ("x1", HTMLText.pixel(frame.plotLeft)), ("x2", HTMLText.pixel(frame.plotRight)), ("y1", y),
                        ("y2", y), ("stroke", "#444"), ("stroke-dasharray", "2 3"),
                    ])
                canvas.element(
                    "text",
                    [
                        ("x", HTMLText.pixel(frame.plotRight - 4)), ("y", y), ("dy", "-0.35em"),
                        ("text-anchor", "end"), ("font-size", "11"), ("fill", "#444"),
                    ], text: reference.label)
            }
            for series in series {
                let shown = series.points.filter { yScale.accepts($0.y) && $0.x.isFinite }
                let coordinates = shown.map { point in
                    HTMLText.pixel(xScale.position(point.x)) + "," + HTMLText.pixel(yScale.position(point.y))
                }
                canvas.element(
                    "polyline",
                    [
                        ("class", "series"), ("data-series", series.name),
                        ("data-x", shown.map { HTMLText.exact($0.x) }.joined(separator: " ")),
                        ("data-y", shown.map { HTMLText.exact($0.y) }.joined(separator: " ")),
                        ("data-omitted", "\(series.points.count - shown.count)"),
                        ("points", coordinates.joined(separator: " ")), ("fill", "none"),
                        ("stroke-linejoin", "round"),
                    ] + series.style.strokeAttributes)
                if shown.count <= 40 {
                    for point in shown {
                        canvas.element(
                            "circle",
                            [
                                ("cx", HTMLText.pixel(xScale.position(point.x))),
                                ("cy", HTMLText.pixel(yScale.position(point.y))), ("r", "2.5"),
                                ("fill", series.style.color),
                            ])
                    }
                }
                for point in shown {
                    guard let error = point.error, error > 0 else { continue }
                    let (low, high) = (point.y - error, point.y + error)
                    guard yScale.accepts(low), yScale.accepts(high) else { continue }
                    let x = HTMLText.pixel(xScale.position(point.x))
                    canvas.element(
                        "line",
                        [
                            ("class", "error"), ("data-series", series.name), ("data-x", HTMLText.exact(point.x)),
                            ("data-low", HTMLText.exact(low)), ("data-high", HTMLText.exact(high)), ("x1", x),
                            ("x2", x), ("y1", HTMLText.pixel(yScale.position(low))),
                            ("y2", HTMLText.pixel(yScale.position(high))),
                        ] + series.style.strokeAttributes)
                }
            }
        }
    }
}
