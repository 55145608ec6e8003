import AmalgamCore
import TestSupport
import Testing

@testable import GGUFFormat

struct GGMLTypeTests {
    @Test("type codes, names and block sizes follow ggml; retired codes are unknown")
    func table() {
        #expect(
            GGMLType(rawValue: 12) == .q4_K && GGMLType.q4_K.name == "Q4_K" && GGMLType.q4_K.blockLayout == (256, 144))
        #expect(GGMLType(name: "iq4_nl") == .iq4_NL && GGMLType(name: "BF16")?.plainDType == .bf16)
        for retired: UInt32 in [4, 5, 31, 32, 33, 36, 37, 38] { #expect(GGMLType(rawValue: retired) == nil) }
        #expect(GGMLType(.plain(.u8)) == nil && GGMLType(.plain(.i16)) == .i16)
    }
}

struct TransformTests {
    @Test(
        "the rotary permutation is the reshape-swap of the converters, and undoes itself",
        arguments: [(8, 2), (12, 3), (16, 1)])
    func rotary(rows: Int, heads: Int) throws {
        let toGGUF = try TensorTransforms.rotarySourceRows(rows: rows, heads: heads, toGGUF: true)
        let back = try TensorTransforms.rotarySourceRows(rows: rows, heads: heads, toGGUF: false)
        #expect((0..<rows).map { toGGUF[back[$0]] } == Array(0..<rows))
        // reshape(heads, 2, d/2) then swap the last two axes: GGUF row h*d + 2i + j holds HF row h*d + j*d/2 + i.
        let d = rows / heads
        for h in 0..<heads {
            for i in 0..<(d / 2) { for j in 0..<2 { #expect(toGGUF[h * d + 2 * i + j] == h * d + j * (d / 2) + i) } }
        }
        #expect(throws: AmalgamError.self) { try TensorTransforms.rotarySourceRows(rows: 10, heads: 4, toGGUF: true) }
    }

    @Test("every table entry maps to Hugging Face and back", arguments: GGUFNaming.all.map(\.architecture))
    func namesRoundTrip(architecture: String) throws {
        let naming = try #require(GGUFNaming.forArchitecture(architecture))
        var names = naming.global.map { $0.gguf + ".weight" }
        names += naming.block.flatMap { ["blk.0.\($0.gguf).weight", "blk.17.\($0.gguf).bias"] }
        for name in names {
            let canonical = try #require(naming.huggingFaceName(forGGUF: name), "\(name)")
            #expect(naming.ggufName(forHuggingFace: canonical) == name)
        }
        #expect(
            naming.huggingFaceName(forGGUF: "blk.x.attn_q.weight") == nil
                && naming.huggingFaceName(forGGUF: "rope_freqs.weight") == nil)
        #expect(GGUFNaming.forModelType(naming.modelType)?.architecture == architecture)
    }

    @Test("optional checkpoint prefixes are dropped; mistral is llama")
    func prefixes() throws {
        #expect(
            GGUFNaming.forArchitecture("gpt2")?.ggufName(forHuggingFace: "transformer.h.3.mlp.c_fc.bias")
                == "blk.3.ffn_up.bias")
        #expect(
            GGUFNaming.forArchitecture("bert")?.ggufName(forHuggingFace: "bert.encoder.layer.1.output.LayerNorm.weight")
                == "blk.1.layer_output_norm.weight")
        #expect(GGUFNaming.forModelType("mistral")?.architecture == "llama")
    }
}

struct QuantizerTests {
    static func roundTrip(_ values: [Float], _ type: GGMLType) throws -> [Float] {
        let (elements, bytes) = type.blockLayout
        var blocks = [UInt8](repeating: 0, count: values.count / elements * bytes)
        try values.withUnsafeBufferPointer { source in
            try blocks.withUnsafeMutableBytes { try GGUFQuantizer.encode(source, as: type, into: $0) }
        }
        return try TensorEncoding.quantized(QuantizedEncoding(GGMLCodec(type: type)))
            .decodeToFloat(ByteRegion(copying: blocks), elementCount: values.count)
    }

    @Test(
        "encode then decode stays within each type's error",
        arguments: [
            (GGMLType.q8_0, 0.01), (.q4_0, 0.13), (.q4_1, 0.12), (.q5_0, 0.065), (.q5_1, 0.06), (.q4_K, 0.095),
            (.q5_K, 0.048), (.q6_K, 0.024),
        ])
    func errorBound(type: GGMLType, bound: Double) throws {
        var random = SeededRandom(seed: 7)
        let values = (0..<(256 * 64)).map { _ in Float(random.nextGaussian()) }
        let decoded = try Self.roundTrip(values, type)
        let error = zip(values, decoded).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        let energy = values.reduce(0.0) { $0 + Double($1 * $1) }
        #expect((error / energy).squareRoot() < bound)
    }

    @Test("zero blocks decode to zeros; NaN and infinity are refused", arguments: Array(GGUFQuantizer.encodable))
    func edges(type: GGMLType) throws {
        #expect(try Self.roundTrip([Float](repeating: 0, count: 256), type).allSatisfy { $0 == 0 })
        var values = [Float](repeating: 1, count: 256)
        values[77] = .nan
        #expect(throws: AmalgamError.self) { try Self.roundTrip(values, type) }
        values[77] = .infinity
        #expect(throws: AmalgamError.self) { try Self.roundTrip(values, type) }
    }
}

struct GGUFRoundTripTests {
    @Test("a graph written as GGUF reads back with its names, shapes, values and typed metadata")
    func roundTrip() throws {
        let folder = Scratch.folder()
        var random = SeededRandom(seed: 3)
        let weight = (0..<(64 * 32)).map { _ in Float(random.nextGaussian()) }
        var metadata = Metadata()
        metadata["custom.u16"] = .u16(7)
        metadata["custom.list"] = .array([.f64(0.5), .f64(-2)])
        var graph = try ModelGraph(
            tensors: [
                Tensor(name: "layers.0.weight", shape: [64, 32], floats: weight),
                Tensor(name: "bias", shape: [3], floats: [1, 2, 3]),
            ],
            metadata: metadata, architecture: ArchitectureHints(name: "mlp"))
        graph.sourceFormat = nil
        let path = folder + "/m.gguf"
        _ = try GGUFPlugin().write(graph, to: path, options: GGUFWriterOptions(quant: "q8_0"))
        let read = try GGUFPlugin().load(path)
        #expect(read.tensors.map(\.name) == ["layers.0.weight", "bias"])
        #expect(read.tensors[0].encoding.description == "Q8_0" && read.tensors[0].shape == [64, 32])
        #expect(read.tensors[1].encoding == .plain(.f32))
        #expect(try read.tensors[1].floatValues() == [1, 2, 3])
        #expect(
            read.metadata["custom.u16"] == .u16(7) && read.metadata["custom.list"] == .array([.f64(0.5), .f64(-2)]))
        #expect(
            read.metadata["general.architecture"] == .string("mlp")
                && read.metadata["general.quantization_version"] == .u32(2))
        #expect(read.notes == ["architecture 'mlp' has no name table in Amalgam: GGUF tensor names kept verbatim"])
        let decoded = try read.tensors[0].floatValues()
        #expect(zip(weight, decoded).allSatisfy { abs($0 - $1) < 0.03 })
    }
}
