/// The block (transformer layer) index and role of a tensor.
public struct LayerPosition: Sendable, Hashable {
    /// The repeated block the tensor belongs to (`layers.3.` -> 3), nil outside blocks.
    public var block: Int?
    public var role: TensorRole

    /// Classifies a canonical name. Recognises the naming of Hugging Face llama/qwen/gemma
    /// (`model.layers.N.self_attn.q_proj`), BERT (`encoder.layer.N.attention.self.query`),
    /// GPT-2 (`h.N.attn.c_attn`), ViT and plain MLPs; anything else is `.other`.
    public init(name: String) {
        let parts = name.split(separator: ".").map(String.init)
        block = nil
        for (i, part) in parts.enumerated().dropLast()
        where ["layers", "layer", "h", "blocks", "block", "blk"].contains(part) {
            if let number = Int(parts[i + 1]) {
                block = number
                break
            }
        }
        role = LayerPosition.role(of: parts.map { $0.lowercased() })
    }

    /// True for a task's classification head (`classifier.weight`, `score.bias`,
    /// `head.weight`): its rows are the task's labels, so tasks' heads are not merged.
    public static func isClassificationHead(_ name: String) -> Bool {
        let first = name.split(separator: ".").first.map(String.init) ?? name
        return ["classifier", "score", "head"].contains(first)
    }

    /// True for the matrices SVD-based merges (and Stage 2) work on: 2-D, floating point
    /// (or quantised), neither a vocabulary, position or output table nor a task's head.
    public static func isMergedMatrix(_ tensor: Tensor) -> Bool {
        guard tensor.shape.rank == 2, tensor.encoding.dtype?.isFloatingPoint ?? true else { return false }
        return !LayerPosition(name: tensor.name).role.isVocabularyOrPosition && !isClassificationHead(tensor.name)
    }

    private static func role(of parts: [String]) -> TensorRole {
        let has = { (word: String) in parts.contains(word) }
        let joined = parts.joined(separator: ".")
        if parts.contains(where: { $0.contains("norm") }) || has("ln_1") || has("ln_2") || has("ln_f") { return .norm }
        if has("embed_tokens") || has("word_embeddings") || has("wte") || has("token_embd") { return .tokenEmbedding }
        if has("position_embeddings") || has("wpe") || has("embed_positions") { return .positionEmbedding }
        if has("token_type_embeddings") { return .tokenTypeEmbedding }
        if has("lm_head") || (parts.first == "output" && parts.count <= 2) { return .outputHead }
        if has("q_proj") || has("query") || has("attn_q") { return .attentionQuery }
        if has("k_proj") || has("key") || has("attn_k") { return .attentionKey }
        if has("v_proj") || has("value") || has("attn_v") { return .attentionValue }
        if has("c_attn") || has("qkv") || has("query_key_value") || has("in_proj_weight") { return .attentionQKV }
        if has("o_proj") || has("out_proj") || joined.contains("attention.output.dense")
            || (has("attn") && has("c_proj")) || has("attn_output")
        {
            return .attentionOutput
        }
        if has("gate_proj") || has("ffn_gate") || has("w1") { return .ffnGate }
        if has("up_proj") || has("fc1") || has("c_fc") || joined.contains("intermediate.dense") || has("ffn_up")
            || has("w3")
        {
            return .ffnUp
        }
        if has("down_proj") || has("fc2") || (has("mlp") && has("c_proj")) || joined.contains("output.dense")
            || has("ffn_down") || has("w2")
        {
            return .ffnDown
        }
        return .other
    }
}
