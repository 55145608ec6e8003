import Foundation
import TestSupport
import Testing

@testable import Amalgam

struct CLITests {
    @Test("--version, --help and per-command help exit 0")
    func help() throws {
        let version = try CLI.run("--version")
        #expect(version.status == 0 && version.stdout.hasPrefix("amalgam \(Amalgam.version) (OpenBLAS kernel "))
        let overview = try CLI.run("--help")
        #expect(overview.status == 0 && overview.stdout.contains("convert") && overview.stdout.contains("inspect"))
        for command in ["formats", "inspect", "convert", "demo"] {
            let result = try CLI.run(command, "--help")
            #expect(result.status == 0 && result.stdout.contains("usage: amalgam \(command)"), "\(command)")
        }
    }

    @Test(
        "usage errors exit 64 with one line naming the problem",
        arguments: [
            (["frobnicate"], "amalgam: unknown command 'frobnicate'; run 'amalgam --help' for the list"),
            (["convert", "a.safetensors"], "amalgam convert: missing OUT; see 'amalgam convert --help'"),
            (
                ["convert", "a", "b", "--dtype", "f8_e4m3"],
                "amalgam convert: --dtype must be f32, f16 or bf16, not 'f8_e4m3'; see 'amalgam convert --help'"
            ),
            (
                ["convert", "a", "b", "--max-shard-size", "huge"],
                "amalgam convert: --max-shard-size must be a size such as 5GB, 500MB or 1048576, not 'huge'; see 'amalgam convert --help'"
            ),
            (
                ["inspect", "x", "--colour"],
                "amalgam inspect: unknown option '--colour' for 'amalgam inspect'; see 'amalgam inspect --help'"
            ),
            (["inspect"], "amalgam inspect: missing FILE; see 'amalgam inspect --help'"),
            (["inspect", "a", "b"], "amalgam inspect: unexpected argument 'b'; see 'amalgam inspect --help'"),
            (
                ["convert", "a", "b", "--to"],
                "amalgam convert: option '--to' needs a value (FORMAT); see 'amalgam convert --help'"
            ),
        ])
    func usage(arguments: [String], message: String) throws {
        let process = try CLI.run(arguments: arguments)
        #expect(process.status == 64)
        #expect(process.stderr == message + "\n")
        #expect(process.stdout.isEmpty)
    }

    @Test("formats lists safetensors with its capabilities")
    func formats() throws {
        let result = try CLI.run("formats", "--json")
        let list = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [[String: Any]]
        #expect(list.first?["identifier"] as? String == "safetensors")
        #expect(list.first?["capabilities"] as? [String] == ["read", "write", "sharding"])
        #expect(list.map { $0["identifier"] as? String } == ["safetensors", "gguf", "pytorch", "npz", "npy", "onnx"])
        #expect(list[2]["capabilities"] as? [String] == ["read"])
        #expect(list[5]["capabilities"] as? [String] == ["read", "write"])
        #expect(list[1]["capabilities"] as? [String] == ["read", "write", "quantization"])
    }

    @Test("inspect --json is a stable document describing every tensor")
    func inspect() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = try CLI.model(in: folder)
        let result = try CLI.run("inspect", path, "--json")
        #expect(result.status == 0 && result.stderr.isEmpty)
        let document = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        #expect(document["schema"] as? String == "amalgam.inspect/1")
        #expect(document["format"] as? String == "safetensors")
        #expect(document["tensor_count"] as? Int == 13)
        let tensors = document["tensors"] as! [[String: Any]]
        let q = tensors.first { $0["name"] as? String == "model.layers.0.self_attn.q_proj.weight" }!
        #expect(q["shape"] as? [Int] == [16, 16] && q["dtype"] as? String == "f32" && q["bytes"] as? Int == 1024)
        #expect(q["role"] as? String == "attn_q" && q["block"] as? Int == 0)
        #expect((document["dtypes"] as! [String: Any]).keys.sorted() == ["f32", "i64"])
        #expect((document["metadata"] as! [String: Any])["format"] as? String == "pt")
        let text = try CLI.run("inspect", path)
        #expect(text.stdout.contains("parameters:  3,664") && text.stdout.contains("model.layers.0.mlp.up_proj.weight"))
    }

    @Test("convert: dtype change, refusal to overwrite, --force, and never over the input")
    func convert() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = try CLI.model(in: folder)
        let output = folder + "/half.safetensors"
        let first = try CLI.run("convert", input, output, "--dtype", "f16")
        #expect(first.status == 0 && first.stderr.isEmpty, "\(first.stderr)")
        #expect(first.stdout.contains("converted \(input) (safetensors) to safetensors: 13 tensors, 3,664 parameters"))
        let graph = try InspectionReport(path: output).graph
        #expect(graph["model.norm.weight"]?.encoding == .plain(.f16))
        #expect(graph["model.position_ids"]?.encoding == .plain(.i64))

        let again = try CLI.run("convert", input, output)
        #expect(again.status == 1)
        #expect(again.stderr == "amalgam convert: error: \(output): output exists; pass --force to overwrite it\n")
        #expect(try CLI.run("convert", input, output, "--force").status == 0)
        #expect(try InspectionReport(path: output).graph["model.norm.weight"]?.encoding == .plain(.f32))

        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        let onto = try CLI.run("convert", input, input, "--force", "--dtype", "bf16")
        #expect(onto.status == 1 && onto.stderr.contains("refusing to overwrite an input file"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == before)
        #expect(CLI.files(in: folder) == ["config.json", "half.safetensors", "model.safetensors"])
    }

    @Test("malformed input: exit 1, one line naming file and problem, no output file")
    func malformed() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bad = folder + "/bad.safetensors"
        var bytes = Data()
        let header = #"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: Array(header.utf8) + [UInt8](repeating: 0, count: 8))
        try bytes.write(to: URL(fileURLWithPath: bad))
        let result = try CLI.run("convert", bad, folder + "/out.safetensors")
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "amalgam convert: error: \(bad): tensor 'w' at byte 63: data_offsets [0, 16] run past the end of the data section (8 bytes): file truncated?\n"
        )
        #expect(CLI.files(in: folder) == ["bad.safetensors"])
        let missing = try CLI.run("inspect", folder + "/nope.safetensors")
        #expect(missing.status == 1 && missing.stderr.hasSuffix("nope.safetensors: no such file or folder\n"))
        let unknown = folder + "/mystery.xyz"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: unknown))
        #expect(
            try CLI.run("inspect", unknown).stderr.contains(
                "cannot tell the format (no known signature or extension); name it with --from FORMAT"))
    }

    @Test("inspect --verify reads every tensor and counts NaN and infinite values")
    func verify() throws {
        let path = CLI.scratch() + "/nan.safetensors"
        let graph = try ModelGraph(tensors: [
            Tensor(name: "a", shape: [4], floats: [1, .nan, -.infinity, 2]),
            Tensor(name: "b", shape: [2], floats: [0, 1]),
        ])
        try Amalgam.builtInFormats.writer(named: "safetensors").write(graph, to: path, settings: OutputSettings())
        let text = try CLI.run("inspect", path, "--verify")
        // NaN or infinite values fail the check, and the verdict stands above the tensor
        // table, where it is seen (issue 21, item 17).
        #expect(text.status == 1)
        #expect(
            text.stdout.contains(
                "  verified:    all 2 tensors read completely; 2 NaN or infinite values in 1 tensor:\n    a: 2\n  metadata:"
            ))
        #expect(text.stderr == "amalgam inspect: error: \(path): tensor 'a': 1 tensor holds NaN or infinite values\n")
        let json = try CLI.run("inspect", path, "--verify", "--json")
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        let verification = document["verification"] as! [String: Any]
        #expect(verification["tensors_read"] as? Int == 2)
        #expect(verification["non_finite"] as? [String: Int] == ["a": 2])
    }

    @Test(
        "every malformed file: exit 1, one stderr line naming file and problem, no output",
        arguments: MalformedSafetensors.cases)
    func malformedCorpus(_ testCase: MalformedSafetensors.Case) throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bad = folder + "/bad.safetensors"
        Scratch.write(testCase.bytes, to: bad)
        for arguments in [["convert", bad, folder + "/out.safetensors"], ["inspect", bad]] {
            let result = try CLI.run(arguments: arguments)
            #expect(result.status == 1, "\(testCase.label): \(arguments[0])")
            #expect(result.stderr.hasPrefix("amalgam \(arguments[0]): error: \(bad): "), "\(result.stderr)")
            #expect(result.stderr.contains(testCase.message), "\(result.stderr)")
            #expect(result.stderr.filter { $0 == "\n" }.count == 1)
            #expect(result.stdout.isEmpty)
        }
        #expect(CLI.files(in: folder) == ["bad.safetensors"])
    }

    @Test("sharded output via the CLI reads back as one model; piped stderr shows no progress bar")
    func sharded() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = try CLI.model(in: folder)
        let result = try CLI.run("convert", input, folder + "/out/", "--max-shard-size", "2kB")
        #expect(result.status == 0 && result.stderr.isEmpty)
        let shards = CLI.files(in: folder + "/out")
        #expect(shards.last == "model.safetensors.index.json" && shards.count > 3)
        let original = try InspectionReport(path: input).graph
        let copy = try InspectionReport(path: folder + "/out").graph
        #expect(Set(copy.tensors.map(\.name)) == Set(original.tensors.map(\.name)))
        for tensor in original.tensors { #expect(try copy[tensor.name]!.loadBytes().bytes == tensor.loadBytes().bytes) }
    }
}
