import AmalgamCore
import Testing

@testable import Reports

struct ReportPageTests {
    static func json(_ text: String) throws -> JSONValue {
        try Array(text.utf8).withUnsafeBytes { try JSONParser.parse($0) }
    }

    static let mergeReport = """
        {"schema": "amalgam.merge-report/1", "method": "axis", "settings": {"k": 2}, "base": "base.safetensors",
         "sources": ["a.safetensors", "dir/b<x>.gguf"], "seed": 0, "threads": 2, "seconds": 0.5, "notes": [],
         "tensors": [
          {"name": "model.layers.0.mlp.<script>.weight", "shape": [4, 3], "kind": "matrix",
           "task_vector_norms": [3, 4], "update_norm": 5, "k": 2, "components_per_source": [1, 1],
           "kept_energy_fraction": 0.75, "source_singular_values": [[2, 1], [3, 0]],
           "merged_singular_values": [3, 2]},
          {"name": "model.layers.1.mlp.up.weight", "shape": [4, 3], "kind": "matrix", "source_indices": [1],
           "task_vector_norms": [null, 2], "update_norm": 1, "components_per_source": [2],
           "source_singular_values": [[1.5, 0.5]], "merged_singular_values": [1.5, 0.5]},
          {"name": "model.norm.weight", "shape": [3], "kind": "copy"}]}
        """

    @Test("a merge report's page: names escaped, sources mapped through source_indices, no script, nothing fetched")
    func mergePage() throws {
        let html = try ReportPage.html([("report.json", try Self.json(Self.mergeReport))])
        #expect(!html.contains("<script") && html.contains("&lt;script&gt;") && html.contains("b&lt;x&gt;.gguf"))
        #expect(html.contains("default-src 'none'"))
        // Layer 1's only present source is the second: its components and spectrum are source 2's.
        #expect(
            html.contains(#"data-row="model.layers.1.mlp.up.weight" data-series="2: b&lt;x&gt;.gguf" data-value="2""#))
        #expect(
            html.contains(#"data-row="model.layers.1.mlp.up.weight" data-series="1: a.safetensors" data-value="0""#))
        // Norms per layer: layer 0 is √(3²) for source 1, √(4²) for source 2 and 5 for the update.
        #expect(html.contains(#"data-series="1: a.safetensors" data-x="0 1" data-y="3 0""#))
        #expect(html.contains(#"data-series="merged update" data-x="0 1" data-y="5 1""#))
        // On the log axis, source 2's zero singular value is left out and counted.
        #expect(html.contains(#"data-series="2: b&lt;x&gt;.gguf" data-x="1" data-y="3" data-omitted="1""#))
    }

    @Test("several reports make one page with a section each; ids do not collide")
    func severalDocuments() throws {
        let report = try Self.json(Self.mergeReport)
        let html = try ReportPage.html([("one.json", report), ("two.json", report)])
        #expect(html.contains(#"id="r0-norms""#) && html.contains(#"id="r1-norms""#))
        #expect(html.contains("<h2 id=\"report-1\">Merge: axis, 2 sources</h2>"))
    }

    @Test("reports of other kinds and damaged ones are refused with one line naming the file")
    func refused() throws {
        #expect(throws: AmalgamError.self) { try ReportPage.html([]) }
        let other = try Self.json(#"{"schema": "other/2"}"#)
        let damaged = try Self.json(#"{"schema": "amalgam.tune-log/1", "epochs": [{"train_loss": 1}]}"#)
        do {
            _ = try ReportPage.html([("x.json", other)])
            Issue.record("accepted another schema")
        } catch {
            #expect(
                error.description
                    == "x.json: not an Amalgam report: its schema is 'other/2' (reports are amalgam.merge-report/1, amalgam.tune-log/1, amalgam.transfer-benchmark/1)"
            )
        }
        do {
            _ = try ReportPage.html([("y.json", damaged)])
            Issue.record("accepted an epoch without its number")
        } catch {
            #expect(error.description == "y.json: the report has no 'epoch' (at epochs[0])")
        }
    }

    @Test(
        "hostile numbers render or are refused, never trap",
        arguments: [
            #"{"schema": "amalgam.merge-report/1", "method": "m", "sources": ["a"], "tensors": [{"name": "layers.99999999999999999999.w", "shape": [4, 3], "kind": "matrix", "task_vector_norms": [1e308], "update_norm": -1e308, "components_per_source": [-5], "kept_energy_fraction": 1e300, "source_singular_values": [[5e-324, 1e-300, 0]], "merged_singular_values": [1e308]}]}"#,
            #"{"schema": "amalgam.merge-report/1", "method": "m", "sources": ["a"], "tensors": [{"name": "w", "shape": [1e300], "kind": "matrix"}]}"#,
            #"{"schema": "amalgam.merge-report/1", "method": "m", "sources": ["a"], "tensors": [{"name": "w", "shape": [2], "kind": "matrix", "source_indices": [-1]}]}"#,
            #"{"schema": "amalgam.tune-log/1", "epochs": [{"epoch": 1e300, "train_loss": 1e308}, {"epoch": -1e308, "train_loss": -1e308}], "singular_values": [{"name": "w", "merged": [1e38], "trained": [-1e38]}]}"#,
            #"{"schema": "amalgam.transfer-benchmark/1", "protocol": {"fractions": [1e300]}, "aggregates": [{"method": "axis", "fraction": 1e300, "accuracy": {"count": 1e20, "mean": 1e300, "std": 1e308}}, {"method": "b", "fraction": null, "accuracy": {"count": 2, "mean": -1e300, "std": 0}}], "runs": [{"target": "t", "method": "axis", "variant": "sources-99999999999999999999", "fraction": 1e300, "accuracy": 1e308}]}"#,
        ])
    func hostileNumbers(text: String) throws {
        let document = try Self.json(text)
        do {
            let html = try ReportPage.html([("h.json", document)])
            #expect(!html.contains("NaN") && !html.contains("inf"))
        } catch {
            #expect(error.description.hasPrefix("h.json: the report "))
        }
    }

    @Test("point-range marks sit at their values on the axis")
    func pointRange() {
        let chart = PointRangeChart(
            groups: ["N = 10%"], yTitle: "accuracy", xTitle: "N",
            series: [.init(name: "AXIS", style: .number(0), values: [(0.8, 0.05)])])
        let svg = chart.svg(id: "c")
        let frame = ChartFrame(width: chart.width, height: chart.height)
        let scale = LinearScale(covering: [0.75, 0.85], from: frame.plotBottom, to: frame.plotTop, tickCount: 6)
        #expect(svg.contains(#"data-value="0.8" data-error="0.05""#))
        #expect(svg.contains("cy=\"\(HTMLText.pixel(scale.position(0.8)))\""))
    }
}

struct NaturalOrderTests {
    @Test("matrices are listed layer by layer: digit runs compare as numbers")
    func naturalOrder() {
        let names = [
            "layers.10.q.weight", "layers.2.v.weight", "layers.2.k.weight", "embed.weight", "layers.1.q.weight",
        ]
        #expect(
            names.sorted(by: MergeReportPage.naturallyPrecedes)
                == [
                    "embed.weight", "layers.1.q.weight", "layers.2.k.weight", "layers.2.v.weight", "layers.10.q.weight",
                ])
    }
}
