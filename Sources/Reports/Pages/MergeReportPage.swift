import AmalgamCore

/// The page of a merge report (`amalgam.merge-report/1`): the run's facts, task-vector norms
/// per layer, how many of the kept components each source gave, the energy kept, and per
/// merged matrix the sources' spectra beside the merged update's.
struct MergeReportPage {
    struct Tensor {
        let name: String
        let shape: [Int]
        let kind: String
        /// Per source (nil where the source lacks the tensor).
        let norms: [Double?]
        let updateNorm: Double?
        /// Per source: components of the merged update it gave (axis, tsv).
        let components: [Double]?
        let keptEnergy: Double?
        /// Per source: the top singular values of its task vector, as the method computed them.
        let spectra: [[Double]?]?
        let mergedSpectrum: [Double]?
    }

    let method: String
    let sources: [String]
    let tensors: [Tensor]
    let document: ReportJSON

    init(_ document: ReportJSON) throws(AmalgamError) {
        self.document = document
        method = try document.requiredString("method")
        sources = try document.requiredItems("sources").map { item throws(AmalgamError) in
            guard let text = item.string else { throw item.failure("must be a string") }
            return text
        }
        let count = sources.count
        tensors = try document.requiredItems("tensors").map { item throws(AmalgamError) in
            let name = try item.requiredString("name")
            let shape = try item.integers("shape") ?? []
            // Methods list per present source; source_indices maps those to the sources.
            let present = try item.integers("source_indices") ?? Array(0..<count)
            func perSource<T>(_ values: [T]) -> [T?] {
                var result = [T?](repeating: nil, count: count)
                for (value, index) in zip(values, present) where index < count { result[index] = value }
                return result
            }
            var components: [Double]?
            if item.member("components_per_source")?.value.arrayValue != nil,
                let list = try item.numbers("components_per_source")
            {
                components = perSource(list).map { ($0 ?? nil) ?? 0 }
            } else if let each = item.number("components_per_source") {
                // tsv: the same count from every source, less what its noise floor removed.
                let below = (try item.numbers("components_below_noise_floor")) ?? []
                components = perSource(
                    present.indices.map { each - ((below.indices.contains($0) ? below[$0] : 0) ?? 0) }
                )
                .map { $0 ?? 0 }
            }
            var spectra: [[Double]?]?
            if let lists = item.member("source_singular_values")?.items {
                let values = try lists.map { list throws(AmalgamError) -> [Double] in
                    guard let numbers = list.value.arrayValue?.compactMap(\.doubleValue) else {
                        throw list.failure("must be an array of numbers")
                    }
                    return numbers
                }
                spectra = perSource(values)
            }
            return Tensor(
                name: name, shape: shape, kind: item.member("kind")?.string ?? "?",
                norms: (try item.numbers("task_vector_norms")) ?? [], updateNorm: item.number("update_norm"),
                components: components, keptEnergy: item.number("kept_energy_fraction"), spectra: spectra,
                mergedSpectrum: (try item.numbers("merged_singular_values"))?.compactMap { $0 })
        }
    }

    var sourceStyles: [(name: String, style: SeriesStyle)] {
        sources.enumerated().map { ("\($0 + 1): \(ReportPage.shortName($1))", SeriesStyle.number($0)) }
    }

    /// The layer a tensor belongs to: the first all-digit part of its name (`layers.3.…`).
    static func layer(of name: String) -> Int? {
        name.split(separator: ".").first { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
            .flatMap { Int($0) }
    }

    /// Whether `a` comes before `b` with digit runs compared as numbers (`layers.2` before `layers.10`).
    static func naturallyPrecedes(_ a: String, _ b: String) -> Bool {
        func chunks(_ text: String) -> [(number: Int?, text: Substring)] {
            var result: [(Int?, Substring)] = []
            var start = text.startIndex
            while start < text.endIndex {
                let digits = text[start].isASCII && text[start].isNumber
                let end = text[start...].firstIndex { ($0.isASCII && $0.isNumber) != digits } ?? text.endIndex
                result.append((digits ? Int(text[start..<end]) : nil, text[start..<end]))
                start = end
            }
            return result
        }
        for (x, y) in zip(chunks(a), chunks(b)) {
            if let m = x.number, let n = y.number, m != n { return m < n }
            if x.text != y.text { return x.text < y.text }
        }
        return a.count < b.count
    }

    func render(into page: inout HTMLPage, id: String) {
        let merged = tensors.filter { $0.kind != "copy" }
        // Charts list matrices layer by layer, whatever order the file stored them in.
        let matrices = tensors.filter { $0.kind == "matrix" }.sorted { Self.naturallyPrecedes($0.name, $1.name) }
        var facts: [(String, String)] = [("method", method)]
        if let settings = document.member("settings")?.value.objectValue, !settings.isEmpty {
            facts.append(
                ("settings", settings.map { "\($0.key) = \(ReportJSON.text($0.value))" }.joined(separator: ", ")))
        }
        facts.append(("base", document.member("base")?.string ?? "—"))
        for (index, source) in sources.enumerated() { facts.append(("source \(index + 1)", source)) }
        for key in ["seed", "threads", "seconds", "noise_floor"] {
            if let value = document.member(key) { facts.append((key, ReportJSON.text(value.value))) }
        }
        let kinds = Dictionary(grouping: tensors, by: \.kind).mapValues(\.count)
        facts.append(
            (
                "tensors",
                "\(tensors.count): \(kinds["matrix"] ?? 0) merged matrices, \(kinds["vector"] ?? 0) other merged, \(kinds["copy"] ?? 0) copied"
            ))
        for note in document.member("notes")?.items?.compactMap(\.string) ?? [] { facts.append(("note", note)) }
        page.facts(facts)

        normsChart(merged, into: &page, id: id)
        componentsChart(matrices, into: &page, id: id)
        spectraGrid(matrices, into: &page, id: id)
        tensorTable(into: &page, id: id)
    }

    private func normsChart(_ merged: [Tensor], into page: inout HTMLPage, id: String) {
        guard !merged.isEmpty else { return }
        let layered = merged.contains { Self.layer(of: $0.name) != nil }
        // Per layer (or per tensor when no name has a layer number): the Frobenius norm of
        // everything in it, √(Σ ‖Δ‖²).
        var keys: [Int] = []
        var squares: [Int: [Double]] = [:]
        for (position, tensor) in merged.enumerated() {
            guard let key = layered ? Self.layer(of: tensor.name) : position else { continue }
            if squares[key] == nil {
                keys.append(key)
                squares[key] = [Double](repeating: 0, count: sources.count + 1)
            }
            for (index, norm) in tensor.norms.enumerated() where index < sources.count {
                squares[key]![index] += (norm ?? 0) * (norm ?? 0)
            }
            squares[key]![sources.count] += (tensor.updateNorm ?? 0) * (tensor.updateNorm ?? 0)
        }
        keys.sort()
        var series = sourceStyles.enumerated().map { index, entry in
            LineChart.Series(
                name: entry.name, style: entry.style,
                points: keys.map { LineChart.Point(x: Double($0), y: squares[$0]![index].squareRoot()) })
        }
        series.append(
            LineChart.Series(
                name: "merged update", style: .emphasis,
                points: keys.map { LineChart.Point(x: Double($0), y: squares[$0]![sources.count].squareRoot()) }))
        let chart = LineChart(
            xTitle: layered ? "layer" : "tensor (model order, merged tensors only)", yTitle: "Frobenius norm",
            series: series, yIncludesZero: true)
        page.heading("Task-vector norms per \(layered ? "layer" : "tensor")", level: 3)
        page.figure(
            Figure.html(
                id: id + "-norms",
                title: "‖Δ‖ of each source and of the merged update, per \(layered ? "layer" : "tensor")",
                legend: chart.legend, svg: chart.svg(id: id + "-norms"),
                note: layered
                    ? "Each point is √(Σ ‖Δ‖²) over the layer's merged tensors; tensors outside numbered layers are in the table below."
                    : nil))
    }

    private func componentsChart(_ matrices: [Tensor], into page: inout HTMLPage, id: String) {
        let counted = matrices.filter { $0.components != nil }
        if !counted.isEmpty {
            let chart = StackedBarChart(
                rows: counted.map(\.name), segments: sourceStyles, values: counted.map { $0.components! },
                xTitle: "components of the merged update", maximum: nil)
            page.heading("Which source won which components", level: 3)
            page.figure(
                Figure.html(
                    id: id + "-components", title: "Components of the top K each source contributed, per merged matrix",
                    legend: chart.legend, svg: chart.svg(id: id + "-components")))
        }
        let energies = matrices.filter { $0.keptEnergy != nil }
        if !energies.isEmpty {
            let chart = StackedBarChart(
                rows: energies.map(\.name), segments: [("kept", SeriesStyle.number(0))],
                values: energies.map { [$0.keptEnergy!] }, xTitle: "fraction of the task vectors' energy kept",
                maximum: 1)
            page.heading("Energy kept", level: 3)
            page.figure(
                Figure.html(
                    id: id + "-energy", title: "Σ s² of the kept components over Σ ‖Δᵢ‖², per merged matrix",
                    legend: [], svg: chart.svg(id: id + "-energy")))
        }
    }

    private func spectraGrid(_ matrices: [Tensor], into page: inout HTMLPage, id: String) {
        let drawn = matrices.filter { $0.spectra != nil || $0.mergedSpectrum != nil }
        guard !drawn.isEmpty else {
            page.paragraph(
                "No singular spectra in this report: an older Amalgam wrote it (merge reports now record them for every merged matrix).",
                className: "note")
            return
        }
        page.heading("Singular spectra per merged matrix", level: 3)
        page.paragraph(
            "Each source's task-vector singular values and the merged update's, on a log scale: the top K axis and tsv computed, for the other methods a seeded randomized SVD of rank 10% of min(m, n).",
            className: "note")
        var figures: [String] = []
        for (index, tensor) in drawn.enumerated() {
            var series: [LineChart.Series] = []
            for (source, entry) in sourceStyles.enumerated() {
                guard let values = tensor.spectra?[source] ?? nil else { continue }
                series.append(
                    LineChart.Series(
                        name: entry.name, style: entry.style,
                        points: values.enumerated().map { LineChart.Point(x: Double($0 + 1), y: $1) }))
            }
            if let values = tensor.mergedSpectrum {
                series.append(
                    LineChart.Series(
                        name: "merged update", style: .emphasis,
                        points: values.enumerated().map { LineChart.Point(x: Double($0 + 1), y: $1) }))
            }
            let chart = LineChart(
                xTitle: "component", yTitle: "singular value", series: series, logY: true, width: 380, height: 230)
            let shape = tensor.shape.map(String.init).joined(separator: "×")
            let chartID = "\(id)-spectrum-\(index)"
            figures.append(
                Figure.html(
                    id: chartID, title: "\(tensor.name) (\(shape))", legend: [],
                    svg: chart.svg(id: chartID), small: true))
        }
        let merged: [(name: String, style: SeriesStyle)] =
            drawn.contains { $0.mergedSpectrum != nil } ? [("merged update", .emphasis)] : []
        page.grid(figures, legend: sourceStyles + merged)
    }

    private func tensorTable(into page: inout HTMLPage, id: String) {
        page.heading("Tensors", level: 3)
        let rows = tensors.map { tensor -> [String] in
            [
                tensor.name, tensor.shape.map(String.init).joined(separator: "×"), tensor.kind,
                tensor.norms.map { $0.map(HTMLText.short) ?? "—" }.joined(separator: ", "),
                tensor.updateNorm.map(HTMLText.short) ?? "—",
                tensor.components.map { $0.map { HTMLText.short($0) }.joined(separator: ", ") } ?? "—",
                tensor.keptEnergy.map { HTMLText.fixed($0 * 100, digits: 2) + "%" } ?? "—",
            ]
        }
        page.table(
            id: id + "-tensors",
            header: ["tensor", "shape", "kind", "‖Δ‖ per source", "‖update‖", "components per source", "energy kept"],
            rows: rows, numeric: [4, 6])
    }
}
