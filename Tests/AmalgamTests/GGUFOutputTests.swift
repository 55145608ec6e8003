import Foundation
import Testing

@testable import Amalgam

/// What GGUF output tells the user and writes, as a user meets it on the command line
/// (issue 21: items 1, 8, 9, 10, 12 and 15).
struct GGUFOutputTests {
    static func write(_ graph: ModelGraph, _ path: String) throws {
        try Amalgam.builtInFormats.writer(for: path).write(graph, to: path, settings: OutputSettings())
    }

    static func integers<T: FixedWidthInteger>(_ values: [T], _ name: String, _ dtype: DType) -> Tensor {
        Tensor(
            name: name, shape: [values.count], encoding: .plain(dtype),
            storage: .region(values.withUnsafeBytes { ByteRegion(copying: $0) }))
    }

    /// A llama model whose rows are whole Q4_1/Q8_0 blocks (hidden 64).
    static func llama(in folder: String) throws -> String {
        let path = folder + "/model.safetensors"
        try write(try DemoModel.make(vocabulary: 64, hidden: 64, intermediate: 128, layers: 1), path)
        return path
    }

    @Test("bool, u8, u16 and u32 widen exactly into GGUF's integers; u64 is refused naming the tensor")
    func integerTensors() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let graph = try ModelGraph(tensors: [
            Self.integers([1, 0, 1] as [UInt8], "mask", .bool), Self.integers([0, 200, 255] as [UInt8], "u8", .u8),
            Self.integers([1, 65535] as [UInt16], "u16", .u16),
            Self.integers([4_000_000_000, 1] as [UInt32], "u32", .u32),
        ])
        try Self.write(graph, folder + "/ints.safetensors")
        let result = try CLI.run("convert", folder + "/ints.safetensors", folder + "/ints.gguf", "--arch", "llama")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("mask: GGUF has no bool type; stored as I8, every value kept"))
        #expect(result.stderr.contains("u32: GGUF has no u32 type; stored as I64, every value kept"))
        let back = try InspectionReport(path: folder + "/ints.gguf").graph
        #expect(back["mask"]?.encoding == .plain(.i8) && back["u8"]?.encoding == .plain(.i16))
        #expect(back["u16"]?.encoding == .plain(.i32) && back["u32"]?.encoding == .plain(.i64))
        for tensor in graph.tensors {
            #expect(try back[tensor.name]!.floatValues() == tensor.floatValues(), "\(tensor.name)")
        }
        try Self.write(
            try ModelGraph(tensors: [Self.integers([UInt64(1) << 63] as [UInt64], "big", .u64)]),
            folder + "/u64.safetensors")
        let refused = try CLI.run("convert", folder + "/u64.safetensors", folder + "/u64.gguf")
        #expect(refused.status == 1)
        #expect(
            refused.stderr
                == "amalgam convert: error: \(folder)/u64.gguf: tensor 'big': GGUF has no type that holds u64 values exactly (its integers are I8, I16, I32 and I64)\n"
        )
        #expect(!CLI.files(in: folder).contains { $0.hasPrefix("u64.gguf") || $0.hasPrefix(".u64") })
    }

    @Test("a model that does not say its architecture: a warning, and --arch sets one")
    func unknownArchitecture() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.write(
            try ModelGraph(tensors: [Tensor(name: "w", shape: [2, 32], floats: .init(repeating: 1, count: 64))]),
            folder + "/w.safetensors")
        let plain = try CLI.run("convert", folder + "/w.safetensors", folder + "/w.gguf")
        #expect(plain.status == 0)
        #expect(
            plain.stderr.contains(
                "the model does not say its architecture (no general.architecture, no config.json model_type): general.architecture is 'unknown'"
            ) && plain.stderr.contains("--arch NAME sets one"))
        #expect(
            try InspectionReport(path: folder + "/w.gguf").graph.metadata["general.architecture"] == .string("unknown"))
        let named = try CLI.run("convert", folder + "/w.safetensors", folder + "/w2.gguf", "--arch", "qwen2")
        #expect(named.status == 0 && named.stderr.isEmpty, "\(named.stderr)")
        #expect(
            try InspectionReport(path: folder + "/w2.gguf").graph.metadata["general.architecture"] == .string("qwen2"))
    }

    @Test("general.file_type says what was written: the dominant type, or the --quant type that was used")
    func fileType() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let model = try Self.llama(in: folder)
        func fileType(_ path: String) throws -> MetadataValue? {
            try InspectionReport(path: path).graph.metadata["general.file_type"]
        }
        #expect(try CLI.run("convert", model, folder + "/q41.gguf", "--quant", "q4_1").status == 0)
        #expect(try fileType(folder + "/q41.gguf") == .u32(3))
        // Q4_1 read back, decoded to f32 and written without --quant: all F32 now.
        #expect(try CLI.run("convert", folder + "/q41.gguf", folder + "/f32/").status == 0)
        #expect(try CLI.run("convert", folder + "/f32/model.safetensors", folder + "/f32.gguf").status == 0)
        #expect(try fileType(folder + "/f32.gguf") == .u32(0))
        // GGUF to GGUF without --quant keeps the blocks and the file's own type.
        #expect(try CLI.run("convert", folder + "/q41.gguf", folder + "/copy.gguf").status == 0)
        #expect(try fileType(folder + "/copy.gguf") == .u32(3))
        // --quant q8_0 where no row is a whole block: every matrix F16, and it says so.
        let narrow = folder + "/narrow/model.safetensors"
        try Self.write(try DemoModel.make(vocabulary: 32, hidden: 16, intermediate: 24, layers: 1), narrow)
        #expect(try CLI.run("convert", narrow, folder + "/narrow.gguf", "--quant", "q8_0").status == 0)
        #expect(try fileType(folder + "/narrow.gguf") == .u32(1))
    }

    @Test("many tensors falling back to F16 give one summary line; re-quantising is named")
    func summaryLines() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let model = folder + "/model.safetensors"
        try Self.write(try DemoModel.make(vocabulary: 32, hidden: 48, intermediate: 96, layers: 3), model)
        let result = try CLI.run("convert", model, folder + "/k.gguf", "--quant", "q4_k")
        #expect(result.status == 0)
        // llama.cpp's fallback: rows of 96 hold whole Q5_0 blocks, rows of 48 do not (F16).
        let lines = result.stderr.split(separator: "\n").filter { $0.contains("block size 256; stored as") }
        #expect(lines.count == 2, "\(result.stderr)")
        #expect(lines.contains { $0.contains("row length 48 ") && $0.contains("stored as F16 (llama.cpp's fallback)") })
        #expect(
            lines.contains { $0.contains("row length 96 ") && $0.contains("stored as Q5_0 (llama.cpp's fallback)") })
        #expect(lines.allSatisfy { $0.contains(" tensors ('") })
        let q41 = folder + "/q41.gguf"
        #expect(try CLI.run("convert", try Self.llama(in: folder + "/wide"), q41, "--quant", "q4_1").status == 0)
        let again = try CLI.run("convert", q41, folder + "/q40.gguf", "--quant", "q4_0")
        #expect(again.status == 0)
        #expect(
            again.stderr.contains(
                "re-quantised from Q4_1 to Q4_0: the two quantisation errors add up; quantise from the f16/f32 weights where you can"
            ), "\(again.stderr)")
    }

    @Test("BERT to GGUF leaves out position_ids, the pooler and safetensors' format key, as llama.cpp's converter does")
    func bert() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var tensors: [Tensor] = []
        var random = SeededRandom(seed: 1)
        func add(_ name: String, _ shape: Shape) {
            tensors.append(
                Tensor(
                    name: name, shape: shape, floats: (0..<shape.elementCount).map { _ in random.nextSignedUnitFloat() }
                ))
        }
        add("embeddings.word_embeddings.weight", [64, 32])
        add("embeddings.position_embeddings.weight", [16, 32])
        tensors.append(Self.integers((0..<16).map(Int64.init), "embeddings.position_ids", .i64))
        add("encoder.layer.0.attention.self.query.weight", [32, 32])
        add("pooler.dense.weight", [32, 32])
        add("pooler.dense.bias", [32])
        let graph = try ModelGraph(tensors: tensors)
        let hf = folder + "/bert/model.safetensors"
        try Self.write(graph, hf)
        try #"{"model_type": "bert", "num_attention_heads": 2, "hidden_size": 32}"#.write(
            toFile: folder + "/bert/config.json", atomically: true, encoding: .utf8)
        let result = try CLI.run("convert", folder + "/bert/", folder + "/bert.gguf")
        #expect(result.status == 0)
        #expect(
            result.stderr.contains(
                "left out embeddings.position_ids, pooler.dense.bias, pooler.dense.weight, which llama.cpp's bert does not use"
            ), "\(result.stderr)")
        let gguf = try InspectionReport(path: folder + "/bert.gguf").graph
        #expect(
            gguf.tensors.map(\.originalName).sorted() == [
                "blk.0.attn_q.weight", "position_embd.weight", "token_embd.weight",
            ])
        #expect(gguf.metadata["format"] == nil && gguf.metadata["general.architecture"] == .string("bert"))
    }
}
