import AmalgamCore

/// Canonical Hugging Face names <-> GGUF names for one architecture (gguf-py's
/// `tensor_mapping.py` lists the same pairs), with the value transforms the
/// architecture's converter applies.
struct GGUFNaming: Sendable {
    /// `general.architecture` in GGUF (`llama`).
    let architecture: String
    /// `model_type` in config.json (`llama`, `gemma3_text`...).
    let modelType: String
    /// The `architectures` entry of config.json.
    let modelClass: String
    /// Stems outside blocks: GGUF -> HF (no `.weight`/`.bias`).
    let global: [(gguf: String, hf: String)]
    /// HF prefix of block `N`, with `{N}` (`model.layers.{N}.`).
    let blockPrefix: String
    /// Stems inside a block: GGUF (after `blk.N.`) -> HF (after the block prefix).
    let block: [(gguf: String, hf: String)]
    /// HF prefixes that some checkpoints add (`transformer.`, `bert.`), dropped on input.
    let optionalPrefixes: [String]
    /// Hugging Face tensors llama.cpp's converter leaves out of this architecture's GGUF
    /// (BERT's `position_ids` buffer and pooler), after `optionalPrefixes`.
    var leftOut: [String] = []

    // MARK: Tables

    static let llamaGlobal = [
        ("token_embd", "model.embed_tokens"), ("output_norm", "model.norm"), ("output", "lm_head"),
    ]
    static let llamaBlock = [
        ("attn_norm", "input_layernorm"), ("ffn_norm", "post_attention_layernorm"),
        ("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"), ("attn_v", "self_attn.v_proj"),
        ("attn_output", "self_attn.o_proj"), ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"),
        ("ffn_down", "mlp.down_proj"),
    ]
    static let gemma2Block = [
        ("attn_norm", "input_layernorm"), ("post_attention_norm", "post_attention_layernorm"),
        ("ffn_norm", "pre_feedforward_layernorm"), ("post_ffw_norm", "post_feedforward_layernorm"),
        ("attn_q", "self_attn.q_proj"), ("attn_k", "self_attn.k_proj"), ("attn_v", "self_attn.v_proj"),
        ("attn_output", "self_attn.o_proj"), ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"),
        ("ffn_down", "mlp.down_proj"),
    ]
    static let qkNorms = [("attn_q_norm", "self_attn.q_norm"), ("attn_k_norm", "self_attn.k_norm")]

    static let all: [GGUFNaming] = [
        GGUFNaming(
            architecture: "llama", modelType: "llama", modelClass: "LlamaForCausalLM", global: llamaGlobal,
            blockPrefix: "model.layers.{N}.", block: llamaBlock, optionalPrefixes: []),
        GGUFNaming(
            architecture: "qwen2", modelType: "qwen2", modelClass: "Qwen2ForCausalLM", global: llamaGlobal,
            blockPrefix: "model.layers.{N}.", block: llamaBlock, optionalPrefixes: []),
        GGUFNaming(
            architecture: "qwen3", modelType: "qwen3", modelClass: "Qwen3ForCausalLM", global: llamaGlobal,
            blockPrefix: "model.layers.{N}.", block: llamaBlock + qkNorms, optionalPrefixes: []),
        GGUFNaming(
            architecture: "gemma", modelType: "gemma", modelClass: "GemmaForCausalLM", global: llamaGlobal,
            blockPrefix: "model.layers.{N}.", block: llamaBlock, optionalPrefixes: []),
        GGUFNaming(
            architecture: "gemma2", modelType: "gemma2", modelClass: "Gemma2ForCausalLM", global: llamaGlobal,
            blockPrefix: "model.layers.{N}.", block: gemma2Block, optionalPrefixes: []),
        GGUFNaming(
            architecture: "gemma3", modelType: "gemma3_text", modelClass: "Gemma3ForCausalLM", global: llamaGlobal,
            blockPrefix: "model.layers.{N}.", block: gemma2Block + qkNorms, optionalPrefixes: []),
        GGUFNaming(
            architecture: "gpt2", modelType: "gpt2", modelClass: "GPT2LMHeadModel",
            global: [("token_embd", "wte"), ("position_embd", "wpe"), ("output_norm", "ln_f"), ("output", "lm_head")],
            blockPrefix: "h.{N}.",
            block: [
                ("attn_norm", "ln_1"), ("attn_qkv", "attn.c_attn"), ("attn_output", "attn.c_proj"),
                ("ffn_norm", "ln_2"), ("ffn_up", "mlp.c_fc"), ("ffn_down", "mlp.c_proj"),
            ],
            optionalPrefixes: ["transformer."]),
        GGUFNaming(
            architecture: "bert", modelType: "bert", modelClass: "BertModel",
            global: [
                ("token_embd", "embeddings.word_embeddings"), ("position_embd", "embeddings.position_embeddings"),
                ("token_types", "embeddings.token_type_embeddings"), ("token_embd_norm", "embeddings.LayerNorm"),
            ],
            blockPrefix: "encoder.layer.{N}.",
            block: [
                ("attn_q", "attention.self.query"), ("attn_k", "attention.self.key"),
                ("attn_v", "attention.self.value"),
                ("attn_output", "attention.output.dense"), ("attn_output_norm", "attention.output.LayerNorm"),
                ("ffn_up", "intermediate.dense"), ("ffn_down", "output.dense"),
                ("layer_output_norm", "output.LayerNorm"),
            ],
            optionalPrefixes: ["bert."],
            leftOut: ["embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"]),
    ]

    /// Hugging Face model types that GGUF files store under another architecture.
    static let modelTypeAliases = ["mistral": "llama", "gemma3": "gemma3", "qwen2_moe": "qwen2moe"]

    /// The naming for a GGUF `general.architecture`, nil when Amalgam has no table for it.
    static func forArchitecture(_ name: String?) -> GGUFNaming? {
        guard let name else { return nil }
        return all.first { $0.architecture == name }
    }

    /// The naming for a config.json `model_type` (or a GGUF architecture name).
    static func forModelType(_ type: String?) -> GGUFNaming? {
        guard let type else { return nil }
        if let match = all.first(where: { $0.modelType == type }) { return match }
        return forArchitecture(modelTypeAliases[type] ?? type)
    }

    // MARK: Mapping

    private static func splitSuffix(_ name: String) -> (stem: Substring, suffix: Substring) {
        for suffix in [".weight", ".bias"] where name.hasSuffix(suffix) {
            return (name.dropLast(suffix.count), name.suffix(suffix.count))
        }
        return (Substring(name), "")
    }

    /// The canonical name of GGUF tensor `name`, or nil when the table has no entry.
    func huggingFaceName(forGGUF name: String) -> String? {
        let (stem, suffix) = Self.splitSuffix(name)
        if stem.hasPrefix("blk.") {
            let rest = stem.dropFirst(4)
            guard let dot = rest.firstIndex(of: "."), let number = Int(rest[..<dot]), number >= 0 else { return nil }
            let role = rest[rest.index(after: dot)...]
            guard let entry = block.first(where: { $0.gguf == role }) else { return nil }
            return blockPrefix.replacingFirst("{N}", with: String(number)) + entry.hf + suffix
        }
        guard let entry = global.first(where: { $0.gguf == stem }) else { return nil }
        return entry.hf + suffix
    }

    /// True when llama.cpp's converter leaves the canonical tensor `name` out of this
    /// architecture's GGUF.
    func leavesOut(_ name: String) -> Bool {
        var stem = Substring(name)
        for prefix in optionalPrefixes where stem.hasPrefix(prefix) { stem = stem.dropFirst(prefix.count) }
        return leftOut.contains(String(stem))
    }

    /// The GGUF name of canonical tensor `name`, or nil when the table has no entry.
    func ggufName(forHuggingFace name: String) -> String? {
        var (stem, suffix) = Self.splitSuffix(name)
        for prefix in optionalPrefixes where stem.hasPrefix(prefix) { stem = stem.dropFirst(prefix.count) }
        if let entry = global.first(where: { $0.hf == stem }) { return entry.gguf + suffix }
        let parts = blockPrefix.components(around: "{N}")
        guard stem.hasPrefix(parts.before) else { return nil }
        let rest = stem.dropFirst(parts.before.count)
        guard let dot = rest.firstIndex(of: "."), let number = Int(rest[..<dot]), number >= 0 else { return nil }
        let role = rest[rest.index(after: dot)...]
        guard let entry = block.first(where: { $0.hf == role }) else { return nil }
        return "blk.\(number).\(entry.gguf)\(suffix)"
    }

    /// The transform between the two forms of GGUF tensor `ggufName`. `heads` and
    /// `kvHeads` come from the metadata; nil when unknown.
    func transform(forGGUF ggufName: String, heads: Int?, kvHeads: Int?) throws(AmalgamError) -> GGUFTensorTransform {
        let (stem, suffix) = Self.splitSuffix(ggufName)
        let role = stem.split(separator: ".").last.map(String.init) ?? ""
        switch architecture {
        case "llama":
            guard role == "attn_q" || role == "attn_k" else { return .none }
            let count = role == "attn_q" ? heads : (kvHeads ?? heads)
            guard let count, count > 0 else {
                throw AmalgamError(
                    .invalidFormat,
                    "the rotary permutation of \(role) needs the head count (\(architecture).attention.head_count in GGUF, num_attention_heads in config.json)",
                    tensor: ggufName)
            }
            return .rotaryPermutation(heads: count)
        case "gemma", "gemma2", "gemma3":
            return role.hasSuffix("norm") && suffix == ".weight" ? .addOne : .none
        case "gpt2":
            return ["attn_qkv", "attn_output", "ffn_up", "ffn_down"].contains(role) && suffix == ".weight"
                ? .transpose : .none
        default:
            return .none
        }
    }
}

extension StringProtocol {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        let (before, after) = components(around: target)
        return before + replacement + after
    }

    /// The text before and after the first occurrence of `separator` (all of it before when absent).
    func components(around separator: String) -> (before: String, after: String) {
        let text = String(self)
        guard let range = text.firstRange(of: separator) else { return (text, "") }
        return (String(text[..<range.lowerBound]), String(text[range.upperBound...]))
    }
}
