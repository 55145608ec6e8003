/// SVG markup built element by element; every attribute value and text is escaped here,
/// so charts never write markup by hand.
struct SVGCanvas {
    private(set) var markup = ""

    /// Appends `<name attributes/>`, or `<name attributes>text</name>` with escaped `text`.
    mutating func element(_ name: String, _ attributes: [(String, String)], text: String? = nil) {
        markup += "<" + name
        for (key, value) in attributes { markup += " \(key)=\"\(HTMLText.escape(value))\"" }
        if let text {
            markup += ">" + HTMLText.escape(text) + "</\(name)>"
        } else {
            markup += "/>"
        }
    }

    /// Appends `<name attributes>`, the body's elements, then `</name>`.
    mutating func group(_ name: String = "g", _ attributes: [(String, String)], _ body: (inout SVGCanvas) -> Void) {
        markup += "<" + name
        for (key, value) in attributes { markup += " \(key)=\"\(HTMLText.escape(value))\"" }
        markup += ">"
        body(&self)
        markup += "</\(name)>"
    }

    /// The whole `<svg>` element of a chart `width` × `height` pixels.
    static func document(
        width: Double, height: Double, attributes: [(String, String)], _ body: (inout SVGCanvas) -> Void
    ) -> String {
        var canvas = SVGCanvas()
        let size = [
            ("xmlns", "http://www.w3.org/2000/svg"), ("width", HTMLText.pixel(width)),
            ("height", HTMLText.pixel(height)),
            ("viewBox", "0 0 \(HTMLText.pixel(width)) \(HTMLText.pixel(height))"), ("role", "img"),
        ]
        canvas.group("svg", size + attributes, body)
        return canvas.markup
    }
}

/// Where a chart's plot area lies inside its `width` × `height` box.
struct ChartFrame {
    let width: Double
    let height: Double
    let left: Double
    let right: Double
    let top: Double
    let bottom: Double

    init(width: Double, height: Double, left: Double = 64, right: Double = 16, top: Double = 12, bottom: Double = 44) {
        self.width = width
        self.height = height
        self.left = left
        self.right = right
        self.top = top
        self.bottom = bottom
    }

    var plotLeft: Double { left }
    var plotRight: Double { width - right }
    var plotTop: Double { top }
    var plotBottom: Double { height - bottom }
}

/// One series' look: a colour from the palette, solid or dashed.
struct SeriesStyle: Sendable {
    let color: String
    let dashed: Bool
    let strokeWidth: Double

    /// Okabe and Ito's colour-blind-safe colours, then three more; dashed after a full cycle.
    static let palette = [
        "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#7F7F7F", "#8C564B", "#BCBD22", "#17BECF",
    ]

    /// The style of the `index`-th series.
    static func number(_ index: Int) -> SeriesStyle {
        SeriesStyle(
            color: palette[index % palette.count], dashed: (index / palette.count) % 2 == 1, strokeWidth: 1.5)
    }

    /// The merged result, drawn over the sources.
    static let emphasis = SeriesStyle(color: "#000000", dashed: false, strokeWidth: 2.25)

    var strokeAttributes: [(String, String)] {
        [("stroke", color), ("stroke-width", HTMLText.exact(strokeWidth))]
            + (dashed ? [("stroke-dasharray", "5 3")] : [])
    }
}

/// Drawing axes: gridlines and ticks carry `data-axis` and `data-value`, so a checker can
/// read each tick's value beside its rendered position.
enum AxisDrawing {
    static let tickFont = "11"

    /// The y axis on the left of `frame`, with horizontal gridlines at each tick.
    static func y(_ scale: any AxisScale, frame: ChartFrame, title: String, into canvas: inout SVGCanvas) {
        canvas.group("g", [("class", "axis"), ("data-axis", "y"), ("data-scale", scale.kind)]) { canvas in
            for tick in scale.ticks {
                let y = HTMLText.pixel(scale.position(tick))
                canvas.element(
                    "line",
                    [
                        ("class", "tick"), ("data-axis", "y"), ("data-value", HTMLText.exact(tick)),
                        ("x1", HTMLText.pixel(frame.plotLeft)), ("x2", HTMLText.pixel(frame.plotRight)), ("y1", y),
                        ("y2", y), ("stroke", "#e3e3e3"),
                    ])
                canvas.element(
                    "text",
                    [
                        ("x", HTMLText.pixel(frame.plotLeft - 6)), ("y", y), ("dy", "0.32em"), ("text-anchor", "end"),
                        ("font-size", tickFont),
                    ], text: scale.label(tick))
            }
            canvas.element(
                "line",
                [
                    ("x1", HTMLText.pixel(frame.plotLeft)), ("x2", HTMLText.pixel(frame.plotLeft)),
                    ("y1", HTMLText.pixel(frame.plotTop)), ("y2", HTMLText.pixel(frame.plotBottom)), ("stroke", "#555"),
                ])
            let middle = (frame.plotTop + frame.plotBottom) / 2
            canvas.element(
                "text",
                [
                    ("class", "axis-title"), ("transform", "translate(14 \(HTMLText.pixel(middle))) rotate(-90)"),
                    ("text-anchor", "middle"), ("font-size", "12"),
                ], text: title)
        }
    }

    /// The x axis under `frame`, with short ticks (or, with `gridlines`, vertical lines over
    /// the plot) and labels at each tick.
    static func x(
        _ scale: any AxisScale, frame: ChartFrame, title: String, gridlines: Bool = false,
        into canvas: inout SVGCanvas
    ) {
        canvas.group("g", [("class", "axis"), ("data-axis", "x"), ("data-scale", scale.kind)]) { canvas in
            for tick in scale.ticks {
                let x = HTMLText.pixel(scale.position(tick))
                canvas.element(
                    "line",
                    [
                        ("class", "tick"), ("data-axis", "x"), ("data-value", HTMLText.exact(tick)), ("x1", x),
                        ("x2", x), ("y1", HTMLText.pixel(gridlines ? frame.plotTop : frame.plotBottom)),
                        ("y2", HTMLText.pixel(frame.plotBottom + 5)), ("stroke", gridlines ? "#e3e3e3" : "#555"),
                    ])
                canvas.element(
                    "text",
                    [
                        ("x", x), ("y", HTMLText.pixel(frame.plotBottom + 17)), ("text-anchor", "middle"),
                        ("font-size", tickFont),
                    ], text: scale.label(tick))
            }
            xBaseline(frame: frame, title: title, into: &canvas)
        }
    }

    /// The line under the plot and the x axis's title (also under a band axis of groups).
    static func xBaseline(frame: ChartFrame, title: String, into canvas: inout SVGCanvas) {
        canvas.element(
            "line",
            [
                ("x1", HTMLText.pixel(frame.plotLeft)), ("x2", HTMLText.pixel(frame.plotRight)),
                ("y1", HTMLText.pixel(frame.plotBottom)), ("y2", HTMLText.pixel(frame.plotBottom)), ("stroke", "#555"),
            ])
        canvas.element(
            "text",
            [
                ("class", "axis-title"), ("x", HTMLText.pixel((frame.plotLeft + frame.plotRight) / 2)),
                ("y", HTMLText.pixel(frame.height - 6)), ("text-anchor", "middle"), ("font-size", "12"),
            ], text: title)
    }
}
