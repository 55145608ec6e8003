import Foundation
import Testing

@testable import Amalgam

/// Hugging Face folders as inputs and outputs, their companion files, and the metadata
/// safetensors outputs carry (issue 21: items 3, 4, 6, 7).
struct HuggingFaceFolderTests {
    @Test(
        "a folder with one model.safetensors, config.json and tokenizer files is a model for inspect, convert and merge"
    )
    func singleFileFolder() throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder + "/hf", withIntermediateDirectories: true)
        for name in ["model.safetensors", "config.json"] {
            try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: folder + "/hf/" + name)
        }
        let inspect = try CLI.run("inspect", folder + "/hf/", "--json")
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as! [String: Any]
        #expect((document["architecture"] as! [String: Any])["name"] as? String == "llama")
        let convert = try CLI.run("convert", folder + "/hf", folder + "/x.npz")
        #expect(convert.status == 0, "\(convert.stderr)")
        let source = folder + "/source.safetensors"
        try Amalgam.builtInFormats.writer(named: "safetensors").write(
            try Workspace.perturbed(try InspectionReport(path: folder + "/hf").graph, seed: 4), to: source,
            settings: OutputSettings())
        let merge = try CLI.run(
            "merge", "--base", folder + "/hf/", "--source", source, "--output", folder + "/m.safetensors")
        #expect(merge.status == 0, "\(merge.stderr)")
    }

    @Test("folder outputs are Hugging Face folders (safetensors, config, tokenizer); their parent folders are made")
    func folderOutputs() throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fromGGUF = try CLI.run("convert", folder + "/model.gguf", folder + "/out/")
        #expect(fromGGUF.status == 0, "\(fromGGUF.stderr)")
        #expect(CLI.files(in: folder + "/out") == ["config.json", "model.safetensors"])
        // Its Q8_0 tensor decoded to the type of the file's other float tensors (F16 here).
        #expect(
            fromGGUF.stderr.contains("decoded 1 quantised tensor (Q8_0) to f16, as safetensors stores plain dtypes"),
            "\(fromGGUF.stderr)")
        // --to chooses another format for the folder.
        let npz = try CLI.run("convert", folder + "/model.safetensors", folder + "/as-npz/", "--to", "npz")
        #expect(npz.status == 0 && CLI.files(in: folder + "/as-npz").contains("model.npz"), "\(npz.stderr)")
        let merge = try CLI.run(
            "merge", "--base", folder + "/base.safetensors", "--source", folder + "/a.safetensors", "--source",
            folder + "/b.npz", "--output", folder + "/merged/deeper/")
        #expect(merge.status == 0, "\(merge.stderr)")
        #expect(CLI.files(in: folder + "/merged/deeper").contains("model.safetensors"))
        let nested = try CLI.run("convert", folder + "/model.safetensors", folder + "/new/a/b/m.npz")
        #expect(nested.status == 0 && FileManager.default.fileExists(atPath: folder + "/new/a/b/m.npz"))
        // The README's recipe output, a folder.
        let recipe = try CLI.run("run", folder + "/recipe.json")
        #expect(recipe.status == 0, "\(recipe.stderr)")
        #expect(CLI.files(in: folder + "/merged-f16").contains("model.safetensors"))
        let half = try InspectionReport(path: folder + "/merged-f16/").graph
        #expect(half["model.norm.weight"]?.encoding == .plain(.f16))
        // A failed folder output leaves no folder behind.
        let failed = try CLI.run("convert", folder + "/model.safetensors", folder + "/gone/x/", "--quant", "q8_0")
        #expect(failed.status == 64 && !FileManager.default.fileExists(atPath: folder + "/gone"))
    }

    @Test("companion files are a model's only in a Hugging Face layout, and never over the file's own metadata")
    func companions() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A llama file beside a BERT config.json: the config is not this file's.
        var llama = try DemoModel.make(vocabulary: 32, hidden: 16, intermediate: 32, layers: 1)
        llama.attachments = [:]
        llama.metadata["general.architecture"] = .string("llama")
        try Amalgam.builtInFormats.writer(named: "safetensors").write(
            llama, to: folder + "/smol.safetensors", settings: OutputSettings())
        try #"{"model_type": "bert", "hidden_size": 384}"#.write(
            toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        let smol = try InspectionReport(path: folder + "/smol.safetensors").graph
        #expect(smol.architecture.name == nil && smol.attachments.isEmpty)
        // Named as a Hugging Face folder's weights, but its metadata says llama: still ignored, with a note.
        try FileManager.default.moveItem(atPath: folder + "/smol.safetensors", toPath: folder + "/model.safetensors")
        let inspect = try CLI.run("inspect", folder + "/model.safetensors")
        #expect(inspect.status == 0 && !inspect.stdout.contains("bert, hidden_size"))
        #expect(
            inspect.stdout.contains(
                "the config.json beside it describes a bert model, but the file itself says llama: the folder's companion files are ignored"
            ))
    }

    @Test("safetensors written from GGUF and ONNX say format pt and drop the other format's file keys")
    func metadata() throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(try CLI.run("convert", folder + "/model.gguf", folder + "/from-gguf.safetensors").status == 0)
        let fromGGUF = try InspectionReport(path: folder + "/from-gguf.safetensors").graph.metadata
        #expect(fromGGUF["format"] == .string("pt"))
        #expect(fromGGUF["general.file_type"] == nil && fromGGUF["general.quantization_version"] == nil)
        #expect(fromGGUF.keys.allSatisfy { !$0.hasPrefix("tokenizer.") })
        #expect(fromGGUF["general.architecture"] == .string("llama") && fromGGUF["llama.block_count"] != nil)
        #expect(try CLI.run("convert", folder + "/model.safetensors", folder + "/m.onnx").status == 0)
        #expect(try CLI.run("convert", folder + "/m.onnx", folder + "/from-onnx.safetensors").status == 0)
        let fromONNX = try InspectionReport(path: folder + "/from-onnx.safetensors").graph.metadata
        #expect(fromONNX["format"] == .string("pt") && fromONNX.keys.allSatisfy { !$0.hasPrefix("onnx.") })
    }
}
