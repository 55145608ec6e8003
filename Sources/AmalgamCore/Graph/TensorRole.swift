/// What a tensor does in its model, recognised from its canonical name.
public enum TensorRole: String, Sendable, Hashable, CaseIterable {
    case tokenEmbedding = "token_embedding"
    case positionEmbedding = "position_embedding"
    case tokenTypeEmbedding = "token_type_embedding"
    case attentionQuery = "attn_q"
    case attentionKey = "attn_k"
    case attentionValue = "attn_v"
    case attentionQKV = "attn_qkv"
    case attentionOutput = "attn_output"
    case ffnGate = "ffn_gate"
    case ffnUp = "ffn_up"
    case ffnDown = "ffn_down"
    case norm
    case outputHead = "output"
    case other

    /// True for embeddings and vocabulary heads (merges average these by default).
    public var isVocabularyOrPosition: Bool {
        self == .tokenEmbedding || self == .positionEmbedding || self == .tokenTypeEmbedding || self == .outputHead
    }
}
