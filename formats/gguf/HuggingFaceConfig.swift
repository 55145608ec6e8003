import AmalgamCore

/// Translates architecture hyper-parameters between GGUF keys (`llama.block_count`) and
/// Hugging Face config.json names (`num_hidden_layers`).
enum HuggingFaceConfig {
    /// GGUF key suffix (after `{arch}.`) -> config.json name, for decoder LLMs.
    static let decoderKeys: [(gguf: String, hf: String)] = [
        ("embedding_length", "hidden_size"), ("block_count", "num_hidden_layers"),
        ("attention.head_count", "num_attention_heads"), ("attention.head_count_kv", "num_key_value_heads"),
        ("feed_forward_length", "intermediate_size"), ("rope.freq_base", "rope_theta"),
        ("attention.layer_norm_rms_epsilon", "rms_norm_eps"), ("context_length", "max_position_embeddings"),
        ("attention.key_length", "head_dim"), ("attention.value_length", "head_dim"), ("vocab_size", "vocab_size"),
    ]
    static let gpt2Keys: [(gguf: String, hf: String)] = [
        ("embedding_length", "n_embd"), ("block_count", "n_layer"), ("attention.head_count", "n_head"),
        ("context_length", "n_positions"), ("attention.layer_norm_epsilon", "layer_norm_epsilon"),
        ("feed_forward_length", "n_inner"), ("vocab_size", "vocab_size"),
    ]
    static let bertKeys: [(gguf: String, hf: String)] = [
        ("embedding_length", "hidden_size"), ("block_count", "num_hidden_layers"),
        ("attention.head_count", "num_attention_heads"), ("feed_forward_length", "intermediate_size"),
        ("context_length", "max_position_embeddings"), ("attention.layer_norm_epsilon", "layer_norm_eps"),
        ("vocab_size", "vocab_size"),
    ]

    static func keys(for architecture: String) -> [(gguf: String, hf: String)] {
        switch architecture {
        case "gpt2": gpt2Keys
        case "bert": bertKeys
        default: decoderKeys
        }
    }

    /// Hyper-parameters from GGUF metadata under their config.json names.
    static func parameters(fromGGUF metadata: Metadata, architecture: String) -> Metadata {
        var parameters = Metadata()
        for (gguf, hf) in keys(for: architecture) {
            if let value = metadata["\(architecture).\(gguf)"] { parameters[hf] = value }
        }
        if parameters["vocab_size"] == nil, case .array(let tokens)? = metadata["tokenizer.ggml.tokens"] {
            parameters["vocab_size"] = .u32(UInt32(tokens.count))
        }
        return parameters
    }

    /// config.json rebuilt from a GGUF file's metadata and tensors.
    static func configJSON(metadata: Metadata, naming: GGUFNaming, tensorNames: Set<String>, dtype: String) -> JSONValue
    {
        let architecture = naming.architecture
        var members: [(String, JSONValue)] = [
            ("architectures", .array([.string(naming.modelClass)])),
            ("model_type", .string(naming.modelType)),
        ]
        for entry in parameters(fromGGUF: metadata, architecture: architecture) {
            members.append((entry.key, JSONValue(entry.value)))
        }
        if architecture != "bert" && architecture != "gpt2" {
            members.append(("tie_word_embeddings", .bool(!tensorNames.contains("output.weight"))))
            if architecture == "llama" || architecture.hasPrefix("qwen") {
                members.append(("hidden_act", .string("silu")))
            }
            if architecture.hasPrefix("gemma") { members.append(("hidden_activation", .string("gelu_pytorch_tanh"))) }
        }
        members += computationParameters(metadata: metadata, architecture: architecture)
        for (gguf, hf) in [
            ("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id"), ("padding_token_id", "pad_token_id"),
        ] {
            if let id = metadata["tokenizer.ggml.\(gguf)"]?.intValue { members.append((hf, .integer(id))) }
        }
        members.append(("torch_dtype", .string(dtype)))
        return .object(members)
    }

    /// The config.json fields that change what the model computes and have no one-to-one GGUF
    /// key, with the values llama.cpp uses where the file is silent (its defaults per
    /// architecture): sliding-window attention and which layers use it, the local rope base,
    /// the query scale, attention and final logit soft-capping (Gemma 2 and 3), rope scaling.
    static func computationParameters(metadata: Metadata, architecture: String) -> [(String, JSONValue)] {
        func number(_ suffix: String) -> Double? {
            metadata["\(architecture).\(suffix)"].flatMap { Double($0.description) }
        }
        func integer(_ suffix: String) -> Int? { metadata["\(architecture).\(suffix)"]?.intValue }
        var members: [(String, JSONValue)] = []
        if architecture == "gemma2" || architecture == "gemma3" {
            let gemma2 = architecture == "gemma2"
            let layers = integer("block_count") ?? 0
            // llama.cpp: Gemma 2 always slides (4096 unless stated), Gemma 3 when the key is there.
            let window = integer("attention.sliding_window") ?? (gemma2 ? 4096 : 0)
            if window > 0 {
                members.append(("sliding_window", .integer(window)))
                // A layer slides unless it closes a period of the pattern (llama.cpp's set_swa_pattern).
                var sliding: [Bool]
                if case .array(let flags)? = metadata["\(architecture).attention.sliding_window_pattern"] {
                    sliding = flags.map { $0 == .bool(true) }
                } else {
                    let period = integer("attention.sliding_window_pattern") ?? (gemma2 ? 2 : 6)
                    sliding = (0..<layers).map { period == 0 || $0 % period < period - 1 }
                    members.append(("sliding_window_pattern", .integer(period)))
                }
                members.append(
                    ("layer_types", .array(sliding.map { .string($0 ? "sliding_attention" : "full_attention") })))
                let localBase = number("rope.freq_base_swa") ?? (gemma2 ? number("rope.freq_base") : 10000)
                if !gemma2, let localBase { members.append(("rope_local_base_freq", .number(format(localBase)))) }
            }
            // Queries are scaled by 1/sqrt(head_dim), by 1/sqrt(hidden/heads) in the 27B models.
            let big = layers == (gemma2 ? 46 : 62)
            if let width = integer("embedding_length"), let heads = integer("attention.head_count"), heads > 0 {
                let scalar = big ? width / heads : (integer("attention.key_length") ?? width / heads)
                members.append(("query_pre_attn_scalar", .integer(scalar)))
            }
            let attentionCap = number("attn_logit_softcapping") ?? (gemma2 ? 50 : nil)
            let finalCap = number("final_logit_softcapping") ?? (gemma2 ? 30 : nil)
            members.append(("attn_logit_softcapping", attentionCap.map { .number(format($0)) } ?? .null))
            members.append(("final_logit_softcapping", finalCap.map { .number(format($0)) } ?? .null))
        }
        if let type = metadata["\(architecture).rope.scaling.type"]?.stringValue, type != "none" {
            var scaling: [(String, JSONValue)] = [("rope_type", .string(type))]
            if let factor = number("rope.scaling.factor") { scaling.append(("factor", .number(format(factor)))) }
            if let original = integer("rope.scaling.original_context_length") {
                scaling.append(("original_max_position_embeddings", .integer(original)))
            }
            members.append(("rope_scaling", .object(scaling)))
        }
        return members
    }

    /// A number as config.json writes it: integral values with one decimal (`10000.0`).
    static func format(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? "\(Int64(value)).0" : "\(value)"
    }

    /// GGUF keys for the computation fields of `computationParameters`, from config.json
    /// parameters; values equal to llama.cpp's defaults are left out, as its converter does.
    static func computationMetadata(fromConfig parameters: Metadata, architecture: String) -> Metadata {
        var metadata = Metadata()
        func number(_ key: String) -> Double? { parameters[key].flatMap { Double($0.description) } }
        if architecture == "gemma2" || architecture == "gemma3" {
            if let window = parameters["sliding_window"]?.intValue, window > 0 {
                metadata["\(architecture).attention.sliding_window"] = .u32(UInt32(clamping: window))
            }
            if let cap = number("attn_logit_softcapping") {
                metadata["\(architecture).attn_logit_softcapping"] = .f32(Float(cap))
            }
            if let cap = number("final_logit_softcapping") {
                metadata["\(architecture).final_logit_softcapping"] = .f32(Float(cap))
            }
            if architecture == "gemma3", let base = number("rope_local_base_freq"), base != 10000 {
                metadata["gemma3.rope.freq_base_swa"] = .f32(Float(base))
            }
        }
        if let type = parameters["rope_scaling.rope_type"]?.stringValue ?? parameters["rope_scaling.type"]?.stringValue,
            type != "default"
        {
            metadata["\(architecture).rope.scaling.type"] = .string(type)
            if let factor = number("rope_scaling.factor") {
                metadata["\(architecture).rope.scaling.factor"] = .f32(Float(factor))
            }
            if let original = parameters["rope_scaling.original_max_position_embeddings"]?.intValue {
                metadata["\(architecture).rope.scaling.original_context_length"] = .u32(UInt32(clamping: original))
            }
        }
        return metadata
    }

    /// GGUF metadata for the architecture keys, from config.json parameters.
    static func ggufMetadata(fromConfig parameters: Metadata, architecture: String) -> Metadata {
        var metadata = Metadata()
        for (gguf, hf) in keys(for: architecture) {
            guard let value = parameters[hf] else { continue }
            let key = "\(architecture).\(gguf)"
            switch value {
            case .f32, .f64:
                if let number = Double(value.description) { metadata[key] = .f32(Float(number)) }
            default:
                if let number = value.intValue, number >= 0, number <= Int(UInt32.max) {
                    metadata[key] = .u32(UInt32(number))
                }
            }
        }
        for entry in computationMetadata(fromConfig: parameters, architecture: architecture) {
            metadata[entry.key] = entry.value
        }
        if metadata["\(architecture).attention.head_count_kv"] == nil, architecture != "gpt2", architecture != "bert",
            let heads = metadata["\(architecture).attention.head_count"]
        {
            metadata["\(architecture).attention.head_count_kv"] = heads
        }
        if let hidden = parameters[architecture == "gpt2" ? "n_embd" : "hidden_size"]?.intValue,
            let heads = parameters[architecture == "gpt2" ? "n_head" : "num_attention_heads"]?.intValue, heads > 0,
            architecture != "gpt2", architecture != "bert"
        {
            let headSize = parameters["head_dim"]?.intValue ?? hidden / heads
            metadata["\(architecture).rope.dimension_count"] = .u32(UInt32(headSize))
        }
        return metadata
    }
}
