/// A small llama-shaped model built in memory with seeded weights, for the demo and tests.
public enum DemoModel {
    /// The model's tensors with Hugging Face llama names and its config.
    /// - Parameters:
    ///   - vocabulary: rows of the embedding and the output head.
    ///   - hidden: width of the residual stream.
    ///   - intermediate: width of each MLP.
    ///   - layers: number of transformer blocks.
    ///   - seed: seed of the weights.
    public static func make(
        vocabulary: Int = 256, hidden: Int = 64, intermediate: Int = 128, layers: Int = 2, seed: UInt64 = 0
    ) throws -> ModelGraph {
        var random = SeededRandom(seed: seed)
        func weights(_ name: String, _ shape: Shape, scale: Float) -> Tensor {
            Tensor(
                name: name, shape: shape,
                floats: (0..<shape.elementCount).map { _ in random.nextSignedUnitFloat() * scale })
        }
        func ones(_ name: String, _ count: Int) -> Tensor {
            Tensor(name: name, shape: [count], floats: [Float](repeating: 1, count: count))
        }
        let scale = 1 / Float(hidden).squareRoot()
        var tensors = [weights("model.embed_tokens.weight", [vocabulary, hidden], scale: 1)]
        for block in 0..<layers {
            let prefix = "model.layers.\(block)."
            tensors.append(ones(prefix + "input_layernorm.weight", hidden))
            for projection in ["q_proj", "k_proj", "v_proj", "o_proj"] {
                tensors.append(weights(prefix + "self_attn.\(projection).weight", [hidden, hidden], scale: scale))
            }
            tensors.append(ones(prefix + "post_attention_layernorm.weight", hidden))
            tensors.append(weights(prefix + "mlp.gate_proj.weight", [intermediate, hidden], scale: scale))
            tensors.append(weights(prefix + "mlp.up_proj.weight", [intermediate, hidden], scale: scale))
            tensors.append(weights(prefix + "mlp.down_proj.weight", [hidden, intermediate], scale: scale))
        }
        tensors.append(ones("model.norm.weight", hidden))
        tensors.append(weights("lm_head.weight", [vocabulary, hidden], scale: scale))
        // An integer buffer, to show that integer tensors pass through conversions as they are.
        let positions = (0..<Int64(32)).map { $0 }
        tensors.append(
            Tensor(
                name: "model.position_ids", shape: [1, 32], encoding: .plain(.i64),
                storage: .region(positions.withUnsafeBytes { ByteRegion(copying: $0) })))
        var metadata = Metadata()
        metadata["format"] = .string("pt")
        metadata["producer"] = .string("amalgam demo \(Amalgam.version)")
        // Heads of 16 values, and the config.json a Hugging Face checkpoint would carry.
        let heads = max(1, hidden / 16)
        var parameters = Metadata()
        for (key, value) in [
            ("hidden_size", hidden), ("intermediate_size", intermediate), ("num_hidden_layers", layers),
            ("num_attention_heads", heads), ("num_key_value_heads", heads), ("vocab_size", vocabulary),
        ] {
            parameters[key] = .i64(Int64(value))
        }
        let config = JSONValue.object(
            [("architectures", .array([.string("LlamaForCausalLM")])), ("model_type", .string("llama"))]
                + parameters.map { ($0.key, JSONValue($0.value)) })
        var graph = try ModelGraph(
            tensors: tensors, metadata: metadata, architecture: ArchitectureHints(name: "llama", parameters: parameters)
        )
        graph.attachments["config.json"] = ByteRegion(copying: Array(config.serialized(pretty: true).utf8) + [0x0A])
        return graph
    }
}
