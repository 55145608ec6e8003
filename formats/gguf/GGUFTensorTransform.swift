import AmalgamCore

/// How a tensor's values differ between its Hugging Face and GGUF forms, beyond the name.
enum GGUFTensorTransform: Sendable, Equatable {
    case none
    /// llama-style rotary layout: GGUF interleaves each head's two rotary halves.
    /// `heads` is n_head for Q and n_head_kv for K.
    case rotaryPermutation(heads: Int)
    /// GPT-2's Conv1D weights are stored [in, out] by Hugging Face and [out, in] in GGUF.
    case transpose
    /// Gemma's RMSNorm multiplies by (1 + w); GGUF stores 1 + w.
    case addOne
}
