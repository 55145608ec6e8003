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
        ("attention.key_length", "head_dim"), ("vocab_size", "vocab_size"),
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
        for (gguf, hf) in [
            ("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id"), ("padding_token_id", "pad_token_id"),
        ] {
            if let id = metadata["tokenizer.ggml.\(gguf)"]?.intValue { members.append((hf, .integer(id))) }
        }
        members.append(("torch_dtype", .string(dtype)))
        return .object(members)
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
