import Testing

@testable import AmalgamCore

#if canImport(Glibc)
    import Glibc
#endif

struct LayerGroupingTests {
    @Test(
        "roles and blocks from canonical names",
        arguments: [
            ("model.layers.3.self_attn.q_proj.weight", 3, TensorRole.attentionQuery),
            ("model.layers.0.mlp.down_proj.weight", 0, .ffnDown),
            ("model.layers.11.post_attention_layernorm.weight", 11, .norm),
            ("encoder.layer.5.attention.self.key.bias", 5, .attentionKey),
            ("encoder.layer.5.attention.output.dense.weight", 5, .attentionOutput),
            ("encoder.layer.5.intermediate.dense.weight", 5, .ffnUp),
            ("encoder.layer.5.output.dense.weight", 5, .ffnDown),
            ("embeddings.word_embeddings.weight", nil, .tokenEmbedding),
            ("embeddings.position_embeddings.weight", nil, .positionEmbedding),
            ("h.2.attn.c_attn.weight", 2, .attentionQKV),
            ("h.2.mlp.c_proj.weight", 2, .ffnDown),
            ("lm_head.weight", nil, .outputHead),
            ("layers.2.weight", 2, .other),
        ] as [(String, Int?, TensorRole)])
    func roles(name: String, block: Int?, role: TensorRole) {
        let position = LayerPosition(name: name)
        #expect(position.block == block)
        #expect(position.role == role)
    }

    @Test func grouping() throws {
        let names = ["embed.weight", "layers.0.a", "layers.0.b", "layers.1.a", "norm.weight"]
        let graph = try ModelGraph(tensors: names.map { Tensor(name: $0, shape: [1], floats: [0]) })
        #expect(graph.layers.map(\.block) == [nil, 0, 1, nil])
        #expect(graph.layers[1].members.map(\.name) == ["layers.0.a", "layers.0.b"])
        #expect(throws: AmalgamError.self) {
            try ModelGraph(tensors: [
                Tensor(name: "x", shape: [1], floats: [0]), Tensor(name: "x", shape: [1], floats: [1]),
            ])
        }
    }

    @Test func metadataOrder() {
        var metadata = Metadata()
        metadata["b"] = .u32(1)
        metadata["a"] = .string("x")
        metadata["b"] = .f32(2.5)
        #expect(metadata.keys == ["b", "a"])
        #expect(metadata["b"]?.description == "2.5")
        metadata["b"] = nil
        #expect(metadata.keys == ["a"] && metadata["a"]?.stringValue == "x")
    }
}
