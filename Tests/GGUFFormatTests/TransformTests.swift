import AmalgamCore
import TestSupport
import Testing

@testable import GGUFFormat

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
