import AmalgamCore

/// Reads a Hugging Face `config.json` beside a model into architecture hints, and carries it
/// (and a `tokenizer.json` there) along as attachments.
enum ConfigHints {
    /// The config's scalar values that describe the architecture.
    static let keys = [
        "model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "vocab_size", "max_position_embeddings", "rope_theta", "rms_norm_eps",
        "layer_norm_eps", "hidden_act", "head_dim", "tie_word_embeddings", "bos_token_id", "eos_token_id",
        "pad_token_id",
        // GPT-2 spells them its own way.
        "n_embd", "n_layer", "n_head", "n_positions", "n_inner", "layer_norm_epsilon",
    ]

    /// Returns `graph` with hints from `folder/config.json` when that file exists and parses;
    /// a missing or malformed config is not an error for reading weights.
    static func attach(to graph: ModelGraph, folder: String) throws -> ModelGraph {
        let path = folder + "/config.json"
        guard FileIdentity.of(path: path) != nil, let file = try? MappedFile(path: path), file.size < 10_000_000,
            let json = try? file.region.withUnsafeBytes({ (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) })
        else { return graph }
        var hints = graph.architecture
        hints.name = json["model_type"]?.stringValue ?? hints.name
        for key in keys {
            switch json[key] {
            case .number(let text)?:
                if let integer = Int64(text) {
                    hints.parameters[key] = .i64(integer)
                } else if let value = Double(text) {
                    hints.parameters[key] = .f64(value)
                }
            case .string(let text)?: hints.parameters[key] = .string(text)
            case .bool(let flag)?: hints.parameters[key] = .bool(flag)
            default: break
            }
        }
        var result = graph
        result.architecture = hints
        result.attachments["config.json"] = file.region
        // The tokenizer travels with the weights too (and lets GGUF output embed it).
        let tokenizerPath = folder + "/tokenizer.json"
        if FileIdentity.of(path: tokenizerPath) != nil, let tokenizer = try? MappedFile(path: tokenizerPath),
            tokenizer.size < 200_000_000
        {
            result.attachments["tokenizer.json"] = tokenizer.region
        }
        return result
    }
}
