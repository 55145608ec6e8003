import AmalgamCore

/// The page of a tuning or training log (`amalgam.tune-log/1`): the run's facts, loss and
/// accuracy per epoch, and for Stage 2 the trained singular values against the merge's.
struct TrainingLogPage {
    struct Epoch {
        let epoch: Double
        let values: [String: Double]
    }

    let document: ReportJSON
    let epochs: [Epoch]
    let traces: [(name: String, merged: [Double], trained: [Double])]

    /// The epoch table's columns after the epoch: the log's key and the header.
    static let tableColumns: [(key: String, title: String)] = [
        ("train_loss", "train loss"), ("train_accuracy", "train accuracy"), ("eval_loss", "eval loss"),
        ("eval_accuracy", "eval accuracy"), ("examples_per_second", "examples/s"), ("learning_rate", "learning rate"),
    ]

    init(_ document: ReportJSON) throws(AmalgamError) {
        self.document = document
        epochs = try document.requiredItems("epochs").map { item throws(AmalgamError) in
            guard let epoch = item.number("epoch") else { throw item.failure("has no 'epoch'") }
            var values: [String: Double] = [:]
            for key in Self.tableColumns.map(\.key) {
                if let value = item.number(key), value.isFinite { values[key] = value }
            }
            return Epoch(epoch: epoch, values: values)
        }
        traces = try (document.member("singular_values")?.items ?? []).map { item throws(AmalgamError) in
            (
                try item.requiredString("name"), (try item.numbers("merged") ?? []).compactMap { $0 },
                (try item.numbers("trained") ?? []).compactMap { $0 }
            )
        }
    }

    func render(into page: inout HTMLPage, id: String) {
        var facts: [(String, String)] = []
        for key in [
            "mode", "architecture", "model", "base", "factors", "data", "eval", "classes", "trainable_parameters",
            "trainable_head_parameters", "trainable_singular_values", "seconds",
        ] {
            if let value = document.member(key) {
                facts.append((key.replacingUnderscores, ReportJSON.text(value.value)))
            }
        }
        if let settings = document.member("settings")?.value.objectValue {
            facts.append(
                ("settings", settings.map { "\($0.key) = \(ReportJSON.text($0.value))" }.joined(separator: ", ")))
        }
        for note in document.member("notes")?.items?.compactMap(\.string) ?? [] { facts.append(("note", note)) }
        page.facts(facts)

        curve(
            ["train_loss", "eval_loss"], title: "Loss per epoch", yTitle: "cross-entropy", into: &page, id: id + "-loss"
        )
        curve(
            ["train_accuracy", "eval_accuracy"], title: "Accuracy per epoch", yTitle: "accuracy", into: &page,
            id: id + "-accuracy")
        singularValues(into: &page, id: id)
        page.heading("Epochs", level: 3)
        let columns = Self.tableColumns
        page.table(
            id: id + "-epochs", header: ["epoch"] + columns.map(\.title),
            rows: epochs.map { epoch in
                [HTMLText.short(epoch.epoch)] + columns.map { epoch.values[$0.key].map(HTMLText.short) ?? "—" }
            }, numeric: Set(0...columns.count))
    }

    private func curve(_ keys: [String], title: String, yTitle: String, into page: inout HTMLPage, id: String) {
        let series = keys.enumerated().compactMap { index, key -> LineChart.Series? in
            let points = epochs.compactMap { epoch in epoch.values[key].map { LineChart.Point(x: epoch.epoch, y: $0) } }
            guard !points.isEmpty else { return nil }
            return LineChart.Series(name: key.replacingUnderscores, style: .number(index), points: points)
        }
        guard !series.isEmpty else { return }
        let chart = LineChart(xTitle: "epoch", yTitle: yTitle, series: series)
        page.figure(Figure.html(id: id, title: title, legend: chart.legend, svg: chart.svg(id: id)))
    }

    private func singularValues(into page: inout HTMLPage, id: String) {
        guard !traces.isEmpty else { return }
        let start = document.member("settings")?.member("sv_init")?.string ?? "zero"
        page.heading("Trained singular values against the merged ones", level: 3)
        page.paragraph(
            "Per Stage 2 matrix, the top-N values of the factors (the merge's) and the values training reached (they started at \(start == "merged" ? "the merged ones" : "zero")).",
            className: "note")
        var figures: [String] = []
        for (index, trace) in traces.enumerated() {
            let chart = LineChart(
                xTitle: "component", yTitle: "singular value",
                series: [
                    LineChart.Series(
                        name: "merged", style: .number(6),
                        points: trace.merged.enumerated().map { LineChart.Point(x: Double($0 + 1), y: $1) }),
                    LineChart.Series(
                        name: "trained", style: .number(0),
                        points: trace.trained.enumerated().map { LineChart.Point(x: Double($0 + 1), y: $1) }),
                ], yIncludesZero: true, width: 380, height: 230)
            let chartID = "\(id)-sv-\(index)"
            figures.append(
                Figure.html(
                    id: chartID, title: trace.name, legend: [], svg: chart.svg(id: chartID),
                    small: true))
        }
        page.grid(figures, legend: [("merged", .number(6)), ("trained", .number(0))])
    }
}

extension String {
    /// `train_loss` → `train loss`.
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
