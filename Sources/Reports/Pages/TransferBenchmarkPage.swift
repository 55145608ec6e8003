import AmalgamCore

/// The page of `amalgam bench transfer`'s JSON (`amalgam.transfer-benchmark/1`): accuracy by
/// method and N with ± one standard deviation, AXIS's paired differences, the robustness
/// runs and the source-count sweep.
struct TransferBenchmarkPage {
    struct Aggregate {
        let method: String
        let label: String
        let fraction: Double?
        let count: Int
        let mean: Double
        let std: Double
        /// AXIS minus this method: mean, std, wins, losses, ties.
        let difference: (mean: Double, std: Double, wins: Int, losses: Int, ties: Int)?
    }

    struct Run {
        let target: String
        let method: String
        let fraction: Double?
        let seed: Double
        let variant: String
        let accuracy: Double
    }

    let document: ReportJSON
    let aggregates: [Aggregate]
    let runs: [Run]
    let fractions: [Double]

    init(_ document: ReportJSON) throws(AmalgamError) {
        self.document = document
        aggregates = try document.requiredItems("aggregates").map { item throws(AmalgamError) in
            let method = try item.requiredString("method")
            let accuracy = try item.required("accuracy")
            guard let mean = accuracy.number("mean"), let count = accuracy.member("count")?.int else {
                throw accuracy.failure("needs 'count' and 'mean'")
            }
            var difference: (Double, Double, Int, Int, Int)?
            if let paired = item.member("axis_minus_method"), let d = paired.member("difference"),
                let mean = d.number("mean")
            {
                difference = (
                    mean, d.number("std") ?? 0, paired.member("wins")?.int ?? 0, paired.member("losses")?.int ?? 0,
                    paired.member("ties")?.int ?? 0
                )
            }
            return Aggregate(
                method: method, label: item.member("label")?.string ?? method, fraction: item.number("fraction"),
                count: count, mean: mean, std: accuracy.number("std") ?? 0, difference: difference)
        }
        runs = try document.requiredItems("runs").map { item throws(AmalgamError) in
            guard let accuracy = item.number("accuracy") else { throw item.failure("has no 'accuracy'") }
            return Run(
                target: try item.requiredString("target"), method: try item.requiredString("method"),
                fraction: item.number("fraction"), seed: item.number("seed") ?? 0,
                variant: item.member("variant")?.string ?? "standard", accuracy: accuracy)
        }
        let listed = (try document.member("protocol")?.numbers("fractions") ?? []).compactMap { $0 }
        let used = Set(aggregates.compactMap(\.fraction))
        fractions = listed.filter { used.contains($0) } + used.subtracting(listed).sorted()
    }

    static func percent(_ fraction: Double) -> String {
        "N = \(HTMLText.trimmed(HTMLText.fixed(fraction * 100, digits: 1)))%"
    }

    /// Mean and sample standard deviation (n − 1), as the benchmark's own tables.
    static func summary(_ values: [Double]) -> (mean: Double, std: Double)? {
        guard !values.isEmpty else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance =
            values.count > 1 ? values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1) : 0
        return (mean, variance.squareRoot())
    }

    private var methods: [(method: String, label: String)] {
        var seen: Set<String> = []
        return aggregates.compactMap { seen.insert($0.method).inserted ? ($0.method, $0.label) : nil }
    }

    private func label(_ method: String) -> String { aggregates.first { $0.method == method }?.label ?? method }

    func render(into page: inout HTMLPage, id: String) {
        var facts: [(String, String)] = []
        for key in ["zoo", "family", "size", "sources_per_target"] {
            if let value = document.member(key) {
                facts.append((key.replacingUnderscores, ReportJSON.text(value.value)))
            }
        }
        let targets = Set(runs.map(\.target)).count
        let seeds = Set(runs.map(\.seed)).count
        facts.append(("runs", "\(runs.count) (\(targets) targets × \(seeds) seeds)"))
        if let settings = document.member("protocol")?.value.objectValue {
            for (key, value) in settings { facts.append((key.replacingUnderscores, ReportJSON.text(value))) }
        }
        page.facts(facts)
        accuracyChart(into: &page, id: id)
        differenceTable(into: &page, id: id)
        targetTable(into: &page, id: id)
        robustnessTable(into: &page, id: id)
        sweepChart(into: &page, id: id)
    }

    private func accuracyChart(into page: inout HTMLPage, id: String) {
        let anyN = aggregates.contains { $0.fraction == nil }
        let groups: [Double?] = fractions.map { Optional($0) } + (anyN ? [nil] : [])
        let names = groups.map { $0.map(Self.percent) ?? "any N" }
        let series = methods.enumerated().map { index, entry in
            PointRangeChart.Series(
                name: entry.label, style: .number(index),
                values: groups.map { fraction in
                    aggregates.first { $0.method == entry.method && $0.fraction == fraction }.map { ($0.mean, $0.std) }
                })
        }
        let chart = PointRangeChart(
            groups: names, yTitle: "target test accuracy", xTitle: "trainable singular values per matrix",
            series: series)
        page.heading("Accuracy by method and N", level: 3)
        page.figure(
            Figure.html(
                id: id + "-accuracy", title: "Mean accuracy over targets × seeds, ± one standard deviation",
                legend: chart.legend, svg: chart.svg(id: id + "-accuracy"),
                note: "Methods without an N (the linear probe, full fine-tuning) are in the last column."))
        page.table(
            id: id + "-accuracy-table", header: ["method"] + names,
            rows: methods.map { entry in
                [entry.label]
                    + groups.map { fraction in
                        aggregates.first { $0.method == entry.method && $0.fraction == fraction }.map {
                            "\(HTMLText.fixed($0.mean * 100, digits: 2)) ± \(HTMLText.fixed($0.std * 100, digits: 2)) (n = \($0.count))"
                        } ?? "—"
                    }
            }, numeric: Set(1...max(1, names.count)))
    }

    private func differenceTable(into page: inout HTMLPage, id: String) {
        let compared = methods.filter { entry in
            aggregates.contains { $0.method == entry.method && $0.difference != nil }
        }
        guard !compared.isEmpty else { return }
        let groups: [Double?] =
            fractions.map { Optional($0) } + (aggregates.contains { $0.fraction == nil } ? [nil] : [])
        page.heading("AXIS against each method, paired over targets × seeds", level: 3)
        page.paragraph("AXIS minus the method in points: mean ± std (AXIS's wins / losses / ties).", className: "note")
        page.table(
            id: id + "-differences",
            header: ["method"]
                + groups.map {
                    $0.map(Self.percent) ?? "no N (AXIS at \(fractions.first.map(Self.percent) ?? "its first N"))"
                },
            rows: compared.map { entry in
                [entry.label]
                    + groups.map { fraction in
                        guard
                            let d = aggregates.first(where: { $0.method == entry.method && $0.fraction == fraction })?
                                .difference
                        else { return "—" }
                        let sign = d.mean > 0 ? "+" : ""
                        return
                            "\(sign)\(HTMLText.fixed(d.mean * 100, digits: 2)) ± \(HTMLText.fixed(d.std * 100, digits: 2)) (\(d.wins)/\(d.losses)/\(d.ties))"
                    }
            }, numeric: Set(1...max(1, groups.count)))
    }

    /// Per target at the first N (methods without an N at theirs): the mean over seeds.
    private func targetTable(into page: inout HTMLPage, id: String) {
        guard let fraction = fractions.first else { return }
        var targets: [String] = []
        for run in runs where !targets.contains(run.target) { targets.append(run.target) }
        page.heading("Per target (\(Self.percent(fraction)), mean over seeds)", level: 3)
        page.table(
            id: id + "-targets", header: ["target"] + methods.map(\.label),
            rows: targets.map { target in
                [target]
                    + methods.map { entry in
                        let usesN = aggregates.contains { $0.method == entry.method && $0.fraction != nil }
                        return Self.summary(
                            runs.filter {
                                $0.target == target && $0.method == entry.method && $0.variant == "standard"
                                    && (!usesN || $0.fraction == fraction)
                            }.map(\.accuracy)
                        ).map { HTMLText.fixed($0.mean * 100, digits: 2) } ?? "—"
                    }
            }, numeric: Set(1...max(1, methods.count)))
    }

    private func robustnessTable(into page: inout HTMLPage, id: String) {
        let variants = [
            ("standard", "as stored"), ("noisy-source", "one source replaced by noise"),
            ("pruned", "sources pruned to 10%"),
        ]
        let tested = methods.filter { entry in
            runs.contains { $0.method == entry.method && $0.variant == "noisy-source" }
        }
        guard !tested.isEmpty, let fraction = fractions.first else { return }
        page.heading("Robustness (\(Self.percent(fraction)))", level: 3)
        page.table(
            id: id + "-robustness", header: ["method"] + variants.map(\.1),
            rows: tested.map { entry in
                [entry.label]
                    + variants.map { variant in
                        Self.summary(
                            runs.filter {
                                $0.method == entry.method && $0.variant == variant.0 && $0.fraction == fraction
                            }
                            .map(\.accuracy)
                        ).map {
                            "\(HTMLText.fixed($0.mean * 100, digits: 2)) ± \(HTMLText.fixed($0.std * 100, digits: 2))"
                        }
                            ?? "—"
                    }
            }, numeric: [1, 2, 3])
    }

    /// Accuracy against the number of sources merged: the sweep's runs (`sources-K`), and
    /// the standard runs at all the other tasks' sources.
    private func sweepChart(into page: inout HTMLPage, id: String) {
        func count(_ variant: String) -> Int? {
            variant.hasPrefix("sources-") ? Int(variant.dropFirst("sources-".count)) : nil
        }
        let sweepRuns = runs.filter { count($0.variant) != nil }
        guard let fraction = sweepRuns.first?.fraction else { return }
        let all = document.member("sources_per_target")?.int
        let swept = methods.filter { entry in sweepRuns.contains { $0.method == entry.method } }
        let series = swept.enumerated().map { index, entry in
            var counts = Set(sweepRuns.filter { $0.method == entry.method }.compactMap { count($0.variant) })
            if let all { counts.insert(all) }
            let points = counts.sorted().compactMap { k -> LineChart.Point? in
                let accuracies = runs.filter { run in
                    run.method == entry.method && run.fraction == fraction
                        && (count(run.variant) == k || (k == all && run.variant == "standard"))
                }.map(\.accuracy)
                return Self.summary(accuracies).map { LineChart.Point(x: Double(k), y: $0.mean, error: $0.std) }
            }
            return LineChart.Series(name: entry.label, style: .number(index), points: points)
        }
        let base = Self.summary(
            runs.filter { $0.method == "base" && $0.variant == "standard" && $0.fraction == fraction }.map(\.accuracy))
        let chart = LineChart(
            xTitle: "sources merged", yTitle: "target test accuracy", series: series,
            reference: base.map { ($0.mean, "\(label("base")) (no sources)") })
        page.heading("Number of sources (\(Self.percent(fraction)))", level: 3)
        page.figure(
            Figure.html(
                id: id + "-sweep", title: "Accuracy against the number of sources merged, ± one standard deviation",
                legend: chart.legend, svg: chart.svg(id: id + "-sweep"),
                note: all.map { "At \($0) sources: the standard runs (every other task's source)." }))
    }
}
