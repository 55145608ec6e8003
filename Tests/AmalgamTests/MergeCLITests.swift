import Foundation
import TestSupport
import Testing

@testable import Amalgam

struct MergeCLITests {
    @Test(
        "mixed formats give exactly the merge of the same sources in safetensors; threads do not change the bytes",
        arguments: ["axis", "ties", "task_arithmetic", "dare", "tsv", "average"])
    func mixedFormats(method: String) throws {
        let fixture = try MergeFixture()
        let base = try fixture.write(fixture.base, "base.safetensors")
        let a = try fixture.source(seed: 2)
        let b = try fixture.source(seed: 3)
        let aST = try fixture.write(a, "a.safetensors")
        let bST = try fixture.write(b, "b.safetensors")
        let bNPZ = try fixture.write(b, "b.npz")
        let bONNX = try fixture.write(b, "b.onnx")
        var outputs: [String] = []
        for (index, (second, threads)) in [(bST, "1"), (bNPZ, "2"), (bST, "2"), (bONNX, "2")].enumerated() {
            let out = fixture.folder + "/out\(index).safetensors"
            let result = try CLI.run(
                "merge", "--base", base, "--source", aST, "--source", second, "--method", method, "--threads", threads,
                "--seed", "5", "--output", out)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.isEmpty)
            outputs.append(out)
        }
        let bytes = try outputs.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        #expect(bytes[0] == bytes[1] && bytes[1] == bytes[2] && bytes[2] == bytes[3])
    }

    @Test("AXIS writes factors whose product is the merged update, a report and its page")
    func factorsAndReport() throws {
        let fixture = try MergeFixture()
        let base = try fixture.write(fixture.base, "base.safetensors")
        let a = try fixture.write(try fixture.source(seed: 2), "a.safetensors")
        let b = try fixture.write(try fixture.source(seed: 3), "b.npz")
        let out = fixture.folder + "/merged.safetensors"
        let factors = fixture.folder + "/factors.safetensors"
        let report = fixture.folder + "/report.json"
        let result = try CLI.run(
            "merge", "--base", base, "--source", a, "--source", b, "--k", "3", "--output", out, "--factors", factors,
            "--report", report, "--report-html", fixture.folder + "/report.html")
        #expect(result.status == 0, "\(result.stderr)")
        let page = try String(contentsOfFile: fixture.folder + "/report.html", encoding: .utf8)
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<svg") && page.contains("From \(report)"))
        let merged = try InspectionReport(path: out).graph
        let original = try InspectionReport(path: base).graph
        let factorGraph = try InspectionReport(path: factors).graph
        let name = "model.layers.0.mlp.up_proj.weight"
        let u = try factorGraph[name + ".U"]!.floatValues()
        let s = try factorGraph[name + ".S"]!.floatValues()
        let v = try factorGraph[name + ".V"]!.floatValues()
        #expect(
            factorGraph[name + ".U"]!.shape == [24, 3] && factorGraph[name + ".V"]!.shape == [16, 3] && s.count == 3)
        let w0 = try original[name]!.floatValues()
        let w = try merged[name]!.floatValues()
        for i in 0..<24 {
            for j in 0..<16 {
                var sum: Float = 0
                for c in 0..<3 { sum += u[i * 3 + c] * s[c] * v[j * 3 + c] }
                #expect(abs(w0[i * 16 + j] + sum - w[i * 16 + j]) < 1e-5)
            }
        }
        #expect(factorGraph["model.embed_tokens.weight.U"] == nil)  // skipped: averaged
        #expect(
            try merged["model.position_ids"]!.loadBytes().bytes == original["model.position_ids"]!.loadBytes().bytes)
        let document =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as! [String: Any]
        #expect(document["schema"] as? String == "amalgam.merge-report/1" && document["method"] as? String == "axis")
        let entry = (document["tensors"] as! [[String: Any]]).first { $0["name"] as? String == name }!
        #expect(entry["kind"] as? String == "matrix" && (entry["components_per_source"] as? [Int])?.reduce(0, +) == 3)
        #expect((entry["task_vector_norms"] as? [Double])?.count == 2 && entry["kept_energy_fraction"] is Double)
    }

    @Test("AXIS on flat spectra reads the sources in doubt again and selects as --exact-svd does")
    func certifiedSelection() throws {
        let fixture = try MergeFixture()
        let base = try fixture.write(fixture.base, "base.safetensors")
        // Noise task vectors of one scale: flat, interleaving spectra.
        let sources = try (2...4).map { try fixture.write(try fixture.source(seed: UInt64($0)), "s\($0).safetensors") }
        var selections: [[String: [Int]]] = []
        var refined = 0
        for extra in [[], ["--exact-svd"]] {
            let report = fixture.folder + "/report\(extra.count).json"
            let result = try CLI.run(
                arguments: ["merge", "--base", base] + sources.flatMap { ["--source", $0] } + [
                    "--k", "3", "--output", fixture.folder + "/merged\(extra.count).safetensors", "--report", report,
                ] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            let document =
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as! [String: Any]
            var selection: [String: [Int]] = [:]
            for entry in document["tensors"] as! [[String: Any]] {
                guard let counts = entry["components_per_source"] as? [Int] else { continue }
                selection[entry["name"] as! String] = counts
                refined +=
                    ((entry["exact_svd_sources"] as? [Int])?.count ?? 0)
                    + ((entry["gram_svd_sources"] as? [Int])?.count ?? 0)
                if extra.isEmpty { #expect(entry["selection_certified"] as? Bool == true) }
            }
            selections.append(selection)
        }
        #expect(!selections[0].isEmpty && selections[0] == selections[1])
        #expect(refined > 0, "the fixture's flat spectra need finer SVDs of some sources")
    }

    @Test(
        "bad inputs: exit 1, a precise line, no output",
        arguments: [
            ("shape", "shape [24, 16] in the base"),
            ("missing", "missing from source"),
            ("architecture", "different architectures: the base"),
            ("identical", "is identical to the base"),
            ("nan", "holds nan at element 0; merges need finite values"),
            ("extra", "has a tensor the base"),
        ])
    func badInputs(problem: String, message: String) throws {
        let fixture = try MergeFixture()
        var baseGraph = fixture.base
        var source = try fixture.source(seed: 2)
        switch problem {
        case "shape":
            source = try source.mapTensors {
                $0.name == "model.layers.0.mlp.up_proj.weight"
                    ? Tensor(name: $0.name, shape: [16, 24], floats: try $0.floatValues()) : $0
            }
        case "missing":
            source = try ModelGraph(tensors: source.tensors.filter { $0.name != "model.norm.weight" })
        case "architecture":
            baseGraph.architecture.name = "llama"
            source.architecture.name = "bert"
        case "identical":
            source = baseGraph
        case "nan":
            source = try source.mapTensors {
                $0.name == "model.norm.weight"
                    ? Tensor(name: $0.name, shape: $0.shape, floats: [.nan] + Array(try $0.floatValues().dropFirst()))
                    : $0
            }
        default:
            try source.append(Tensor(name: "extra.weight", shape: [2], floats: [1, 2]))
        }
        // Architecture hints travel through config.json beside the files.
        let baseFolder = fixture.folder + "/base"
        let sourceFolder = fixture.folder + "/source"
        try FileManager.default.createDirectory(atPath: baseFolder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: sourceFolder, withIntermediateDirectories: true)
        if problem == "architecture" {
            try #"{"model_type": "llama"}"#.write(
                toFile: baseFolder + "/config.json", atomically: true, encoding: .utf8)
            try #"{"model_type": "bert"}"#.write(
                toFile: sourceFolder + "/config.json", atomically: true, encoding: .utf8)
        }
        let base = try fixture.write(baseGraph, "base/model.safetensors")
        let other = try fixture.write(try fixture.source(seed: 9), "other.safetensors")
        let bad = try fixture.write(source, "source/model.safetensors")
        let out = fixture.folder + "/out.safetensors"
        let page = fixture.folder + "/report.html"
        let result = try CLI.run(
            "merge", "--base", base, "--source", other, "--source", bad, "--output", out, "--report-html", page)
        #expect(result.status == 1)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.filter { $0 == "\n" }.count == 1)
        #expect(!FileManager.default.fileExists(atPath: out) && !FileManager.default.fileExists(atPath: page))
        if problem == "missing" || problem == "extra" {
            let allowed = try CLI.run(
                "merge", "--base", base, "--source", other, "--source", bad, "--output", out, "--allow-missing")
            #expect(allowed.status == 0, "\(allowed.stderr)")
            #expect(allowed.stderr.contains("amalgam merge: warning: tensor "))
        }
    }

    @Test("usage errors: unknown method, options of other methods, bad values")
    func usage() throws {
        let cases: [([String], String)] = [
            (
                ["--method", "frankenmerge"],
                "unknown merge method 'frankenmerge' (known: axis, average, task_arithmetic, ties, dare, tsv, linear, slerp, nuslerp, multislerp, karcher, model_stock, sce, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della, della_linear)"
            ),
            (["--method", "ties", "--k", "4"], "--k does not apply to the ties method"),
            (["--density", "2", "--method", "ties"], "--density must be a number in 1e-09...1.0, not '2'"),
            (["--k", "4", "--k-fraction", "0.1"], "give --k or --k-fraction, not both"),
            (["--method", "tsv", "--remainder", "tsv"], "--remainder does not apply to the tsv method"),
            (["--ranking", "raw"], "--ranking must be value or normalized, not 'raw'"),
            (["--method", "ties", "--per-source-quota"], "--per-source-quota does not apply to the ties method"),
            (
                ["--quant", "q9_9"],
                "--quant must be one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q3_k, q4_k, q5_k, q6_k, q2_k, q2_k_s, q3_k_s, q3_k_m, q4_k_s, q4_k_m, q5_k_s, q5_k_m, iq4_nl, iq4_xs, not 'q9_9'"
            ),
        ]
        for (extra, message) in cases {
            let result = try CLI.run(
                arguments: [
                    "merge", "--base", "b.safetensors", "--source", "s.safetensors", "--output", "o.safetensors",
                ] + extra)
            #expect(result.status == 64)
            #expect(result.stderr == "amalgam merge: \(message); see 'amalgam merge --help'\n", "\(result.stderr)")
        }
    }

    @Test("AXIS's variants from the command line: settings in the report, the remainder's factors behind the K")
    func axisVariants() throws {
        let fixture = try MergeFixture()
        try fixture.write(fixture.base, "base.safetensors")
        try fixture.write(try fixture.source(seed: 2), "a.safetensors")
        try fixture.write(try fixture.source(seed: 3), "b.safetensors")
        let folder = fixture.folder
        let result = try CLI.run(
            "merge", "--base", folder + "/base.safetensors", "--source", folder + "/a.safetensors", "--source",
            folder + "/b.safetensors", "--output", folder + "/m.safetensors", "--k", "2", "--ranking", "normalized",
            "--per-source-quota", "--orthogonalize", "tsv", "--remainder", "tsv", "--factors",
            folder + "/f.safetensors",
            "--report", folder + "/r.json")
        #expect(result.status == 0, "\(result.stderr)")
        let report = try String(contentsOfFile: folder + "/r.json", encoding: .utf8)
        for setting in [
            #""ranking": "normalized""#, #""per_source_quota": true"#, #""orthogonalize": "tsv""#,
            #""remainder": "tsv""#, #""remainder_singular_values""#,
        ] {
            #expect(report.contains(setting), "\(setting)")
        }
        let factors = try InspectionReport(path: folder + "/f.safetensors").graph
        let values = try #require(factors.tensors.first { $0.name.hasSuffix(".S") })
        #expect(values.shape.dimensions[0] > 2)
    }

    @Test("recipes: several outputs, relative paths, dry run writes nothing, unknown keys refused")
    func recipe() throws {
        let fixture = try MergeFixture()
        try fixture.write(fixture.base, "base.safetensors")
        try fixture.write(try fixture.source(seed: 2), "a.safetensors")
        try fixture.write(try fixture.source(seed: 3), "b.npz")
        let recipe = fixture.folder + "/recipe.json"
        try """
        {"base": "base.safetensors", "sources": ["a.safetensors", "b.npz"], "method": "axis", "options": {"k": 2},
         "outputs": [{"path": "m.safetensors"}, {"path": "m.npz", "compress": true, "dtype": "bf16"}, {"path": "m.gguf", "quant": "q8_0"}],
         "factors": "f.safetensors", "report": "r.json"}
        """.write(toFile: recipe, atomically: true, encoding: .utf8)
        let dry = try CLI.run("run", recipe, "--dry-run")
        #expect(dry.status == 0 && dry.stdout.contains("merge plan (dry run: nothing computed or written)"))
        #expect(dry.stdout.contains("method:  axis (k=2 exact_svd=false)"))
        #expect(
            CLI.files(in: fixture.folder) == [
                "a.safetensors", "b.npz", "base.safetensors", "config.json", "recipe.json",
            ])
        let result = try CLI.run("run", recipe)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(
            CLI.files(in: fixture.folder) == [
                "a.safetensors", "b.npz", "base.safetensors", "config.json", "f.safetensors", "m.gguf", "m.npz",
                "m.safetensors", "r.json", "recipe.json",
            ])
        let gguf = try InspectionReport(path: fixture.folder + "/m.gguf").graph
        let merged = try InspectionReport(path: fixture.folder + "/m.safetensors").graph
        #expect(gguf.tensors.map(\.name).sorted() == merged.tensors.map(\.name).sorted())
        // The demo model's rows (16, 24) are not whole Q8_0 blocks: F16 with a warning, float
        // vectors F32, integer tensors unchanged.
        for tensor in gguf.tensors where merged[tensor.name]?.encoding.dtype?.isFloatingPoint == true {
            #expect(
                tensor.encoding == (tensor.shape.dimensions.count == 1 ? .plain(.f32) : .plain(.f16)), "\(tensor.name)")
        }
        #expect(
            gguf.tensors.filter { $0.encoding.dtype?.isFloatingPoint == false }.map(\.encoding)
                == merged.tensors.filter { $0.encoding.dtype?.isFloatingPoint == false }.map(\.encoding))
        // general.file_type says what was written, by llama.cpp's rule (the dominant type):
        // every matrix fell back to F16 (issue 21, item 9; it said Q8_0 before).
        #expect(
            gguf.metadata["general.file_type"] == .u32(1)
                && result.stderr.contains("is not a multiple of the Q8_0 block size 32; stored as F16"))
        let npz = try InspectionReport(path: fixture.folder + "/m.npz").graph
        #expect(npz["model.norm.weight"]?.encoding == .plain(.f32))  // numpy has no bf16: widened with a warning
        #expect(result.stderr.contains("amalgam run: warning: "))
        let again = try CLI.run("run", recipe)
        #expect(again.status == 1 && again.stderr.contains("output exists; pass --force to overwrite it"))
        try #"{"base": "x", "sources": ["y"], "outputs": [{"path": "z.safetensors"}], "methd": "axis"}"#.write(
            toFile: recipe, atomically: true, encoding: .utf8)
        let unknown = try CLI.run("run", recipe)
        // Every usage fault in a recipe exits 64 and names the key's path (issue 21, item 14).
        #expect(
            unknown.status == 64 && unknown.stderr.contains("recipe.json: unknown key 'methd' (did you mean 'method'?)")
        )
        try #"{"base": "x", "sources": ["y"], "outputs": [{"path": "z.gguf", "quant": "q2_j"}]}"#.write(
            toFile: recipe, atomically: true, encoding: .utf8)
        let badQuant = try CLI.run("run", recipe)
        #expect(
            badQuant.status == 64
                && badQuant.stderr.contains(
                    "outputs[0].quant must be one of f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q3_k, q4_k, q5_k, q6_k, q2_k, q2_k_s, q3_k_s, q3_k_m, q4_k_s, q4_k_m, q5_k_s, q5_k_m, iq4_nl, iq4_xs, not 'q2_j'"
                ))
    }
}
