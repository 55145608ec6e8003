import Foundation
import Testing

@testable import Amalgam

/// What the command line says to a user: warnings for values that do nothing, refusals that
/// name the key, messages that say what happened, and help texts whose examples run (issue 21:
/// items 13, 14, 17, 18).
struct MessageTests {
    static let merge = ["merge", "--base", "base.safetensors", "--source", "a.safetensors", "--source", "b.npz"]

    @Test(
        "values that would change nothing are named: a K above every rank, a skip pattern matching nothing, --skip with ties, a size without a unit"
    )
    func silentValues() throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let k = try CLI.run(arguments: Self.merge + ["--k", "10000", "--output", "k.safetensors"], in: folder)
        #expect(k.status == 0)
        #expect(
            k.stderr.contains(
                "amalgam merge: warning: K = 10000 is more than min(m, n) of 7 of the 7 merged matrices (at most 16): those keep every component"
            ), "\(k.stderr)")
        let skip = try CLI.run(
            arguments: Self.merge + ["--skip", "*.nothing.*", "--output", "s.safetensors"], in: folder)
        #expect(
            skip.status == 0 && skip.stderr.contains("the skip pattern '*.nothing.*' matches no tensor of the base"))
        let ties = try CLI.run(
            arguments: Self.merge + ["--method", "ties", "--skip", "*.mlp.*", "--output", "t.safetensors"], in: folder)
        #expect(ties.status == 64)
        #expect(
            ties.stderr
                == "amalgam merge: --skip applies to the SVD methods (axis, tsv); ties merges every tensor the same way; see 'amalgam merge --help'\n"
        )
        let size = try CLI.run(
            arguments: ["convert", "model.safetensors", "out/", "--max-shard-size", "10"], in: folder)
        #expect(size.status == 64)
        #expect(
            size.stderr
                == "amalgam convert: --max-shard-size 10 has no unit and would mean 10 bytes; give a unit (10GB, 10MB, 10GiB); see 'amalgam convert --help'\n"
        )
    }

    @Test("recipe faults exit 64 and name the key's path: an unknown key (with a suggestion), a key of another method")
    func recipeFaults() throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cases: [(String, String)] = [
            (
                #""method": "ties", "options": {"densty": 0.3}"#,
                "unknown key 'options.densty' (did you mean 'density'?) (known: dare_ties, density, drop, exact_svd, k, k_fraction, lambda, orthogonalize, param, per_source_quota, ranking, remainder)"
            ),
            (#""method": "ties", "options": {"k": 2}"#, "options.k does not apply to the ties method"),
            (#""options": {"k": 2, "k_fraction": 0.1}"#, "give options.k or options.k_fraction, not both"),
        ]
        for (members, message) in cases {
            try
                #"{"base": "base.safetensors", "sources": ["a.safetensors"], "outputs": [{"path": "m.safetensors"}], \#(members)}"#
                .write(toFile: folder + "/r.json", atomically: true, encoding: .utf8)
            let result = try CLI.run(arguments: ["run", "r.json"], in: folder)
            #expect(result.status == 64)
            #expect(result.stderr == "amalgam run: r.json: \(message); see 'amalgam run --help'\n")
        }
    }

    @Test("messages say what happened: a llama model is not a tuning architecture; a merge went onto its base")
    func plainMessages() throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let tune = try CLI.run(
            arguments: ["train", "model.safetensors", "--data", "train.npz", "--output", "t.safetensors"], in: folder)
        #expect(tune.status == 1)
        #expect(
            tune.stderr
                == "amalgam train: error: model.safetensors: llama is not an architecture Amalgam trains (mlp, bert, vit are); it can be merged and converted\n"
        )
        let merge = try CLI.run(arguments: Self.merge + ["--output", "m.safetensors"], in: folder)
        #expect(merge.stdout.hasPrefix("merged 2 sources onto the base base.safetensors with axis: "))
    }

    @Test(
        "help texts: defaults train takes, no text about outputs eval never writes, --version --json, the recipe schema, full usage lines, did-you-mean"
    )
    func helpTexts() throws {
        let train = try CLI.run("train", "--help").stdout
        #expect(train.contains("--train MODE") && train.contains("(default: full)") && !train.contains("(default: sv)"))
        let eval = try CLI.run("eval", "--help").stdout
        #expect(!eval.contains("output's metadata") && !eval.contains("--output"))
        let version = try CLI.run("--version", "--json")
        let document = try JSONSerialization.jsonObject(with: Data(version.stdout.utf8)) as! [String: Any]
        #expect(document["version"] as? String == Amalgam.version && document["openblas_kernel"] != nil)
        let run = try CLI.run("run", "--help").stdout
        #expect(run.contains("recipe keys") && run.contains("  sources: array of text.") && !run.contains("README"))
        let merge = try CLI.run("merge", "--help").stdout
        let usage = merge.components(separatedBy: "\n\noptions:")[0]
        #expect(usage.contains("[--quant TYPE]") && usage.contains("[--max-shard-size SIZE]"))
        let demo = try CLI.run("demo", "--help").stdout
        #expect(demo.contains("the demo's own files in it are replaced; others are left alone"))
        let typo = try CLI.run("merge", "--methd", "ties")
        #expect(typo.status == 64)
        #expect(
            typo.stderr
                == "amalgam merge: unknown option '--methd' for 'amalgam merge' (did you mean '--method'?); see 'amalgam merge --help'\n"
        )
        let command = try CLI.run("mrege")
        #expect(
            command.stderr
                == "amalgam: unknown command 'mrege' (did you mean 'merge'?); run 'amalgam --help' for the list\n")
    }

    @Test("BERT models refuse --activation, which only MLPs take")
    func activationOnBERT() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var random = SeededRandom(seed: 3)
        var tensors: [Tensor] = []
        func add(_ name: String, _ shape: Shape, offset: Float = 0) {
            tensors.append(
                Tensor(
                    name: name, shape: shape,
                    floats: (0..<shape.elementCount).map { _ in offset + 0.1 * random.nextSignedUnitFloat() }))
        }
        add("embeddings.word_embeddings.weight", [20, 8])
        add("embeddings.position_embeddings.weight", [8, 8])
        add("embeddings.LayerNorm.weight", [8], offset: 1)
        add("embeddings.LayerNorm.bias", [8])
        for name in ["query", "key", "value"] {
            add("encoder.layer.0.attention.self.\(name).weight", [8, 8])
            add("encoder.layer.0.attention.self.\(name).bias", [8])
        }
        add("encoder.layer.0.attention.output.dense.weight", [8, 8])
        add("encoder.layer.0.attention.output.dense.bias", [8])
        add("encoder.layer.0.attention.output.LayerNorm.weight", [8], offset: 1)
        add("encoder.layer.0.attention.output.LayerNorm.bias", [8])
        add("encoder.layer.0.intermediate.dense.weight", [16, 8])
        add("encoder.layer.0.intermediate.dense.bias", [16])
        add("encoder.layer.0.output.dense.weight", [8, 16])
        add("encoder.layer.0.output.dense.bias", [8])
        add("encoder.layer.0.output.LayerNorm.weight", [8], offset: 1)
        add("encoder.layer.0.output.LayerNorm.bias", [8])
        add("classifier.weight", [2, 8])
        add("classifier.bias", [2])
        try Amalgam.builtInFormats.writer(named: "safetensors").write(
            try ModelGraph(tensors: tensors), to: folder + "/bert.safetensors", settings: OutputSettings())
        let ids: [Int64] = [1, 2, 3, 4, 5, 6, 0, 0]
        try Amalgam.builtInFormats.writer(named: "npz").write(
            try ModelGraph(tensors: [
                Tensor(
                    name: "input_ids", shape: [2, 4], encoding: .plain(.i64),
                    storage: .region(ids.withUnsafeBytes { ByteRegion(copying: $0) })),
                Tensor(
                    name: "attention_mask", shape: [2, 4], encoding: .plain(.i64),
                    storage: .region(([1, 1, 1, 1, 1, 1, 0, 0] as [Int64]).withUnsafeBytes { ByteRegion(copying: $0) })),
                Tensor(
                    name: "labels", shape: [2], encoding: .plain(.i64),
                    storage: .region(([0, 1] as [Int64]).withUnsafeBytes { ByteRegion(copying: $0) })),
            ]), to: folder + "/text.npz", settings: OutputSettings())
        let plain = try CLI.run("eval", folder + "/bert.safetensors", "--data", folder + "/text.npz", "--heads", "2")
        #expect(plain.status == 0, "\(plain.stderr)")
        let refused = try CLI.run(
            "eval", folder + "/bert.safetensors", "--data", folder + "/text.npz", "--heads", "2", "--activation", "gelu"
        )
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--activation does not apply to bert models"), "\(refused.stderr)")
    }

    /// The example command lines of a command's help (continuation lines joined).
    static func examples(of command: String) throws -> [String] {
        let help = try CLI.run(command, "--help").stdout
        var lines: [String] = []
        var pending: String?
        for raw in help.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if pending == nil, !line.hasPrefix("amalgam ") { continue }
            pending = (pending.map { $0 + " " } ?? "") + line
            if line.hasSuffix("\\") {
                pending = String(pending!.dropLast()).trimmingCharacters(in: .whitespaces)
            } else {
                lines.append(pending!)
                pending = nil
            }
        }
        return lines
    }

    @Test(
        "every example of every --help runs, in a folder holding the files it names",
        arguments: [
            "formats", "inspect", "verify", "diff", "convert", "merge", "tune", "train", "eval", "forward", "run",
            "tokenize", "zoo",
            "bench", "extract-lora", "slurm", "k8s",
        ])
    func helpExamplesRun(command: String) throws {
        let examples = try Self.examples(of: command)
        #expect(!examples.isEmpty)
        for example in examples {
            let folder = try Workspace.shared.get().copy()
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let words = example.split(separator: " ").map(String.init).dropFirst()
            let result = try CLI.run(arguments: Array(words), in: folder)
            #expect(result.status == 0, "\(example): \(result.stderr)")
        }
    }
}
