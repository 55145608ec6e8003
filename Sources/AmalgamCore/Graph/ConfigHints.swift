/// Reads a Hugging Face folder's `config.json` into architecture hints, and carries it and
/// the other companion files (tokenizer and its configuration) along as attachments.
public enum ConfigHints {
    /// The config's scalar values that describe the architecture.
    static let keys = [
        "model_type", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "vocab_size", "max_position_embeddings", "rope_theta", "rms_norm_eps",
        "layer_norm_eps", "hidden_act", "head_dim", "tie_word_embeddings", "bos_token_id", "eos_token_id",
        "pad_token_id", "sliding_window", "attn_logit_softcapping", "final_logit_softcapping", "rope_local_base_freq",
        "query_pre_attn_scalar",
        // GPT-2 spells them its own way.
        "n_embd", "n_layer", "n_head", "n_positions", "n_inner", "layer_norm_epsilon",
    ]

    /// Returns `graph` with the companion files of `folder` attached and hints from its
    /// config.json. A missing or malformed config is not an error for reading weights; a
    /// config that contradicts the file's own metadata (another architecture) is ignored,
    /// with a note.
    public static func attach(to graph: ModelGraph, folder: String) throws -> ModelGraph {
        let companions = CompanionFiles.read(in: folder)
        guard !companions.isEmpty else { return graph }
        var result = graph
        guard let config = companions["config.json"],
            let json = try? config.withUnsafeBytes({ (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) })
        else {
            result.attachments.merge(companions) { own, _ in own }
            return result
        }
        if let own = ownArchitecture(graph), let type = json["model_type"]?.stringValue, !sameFamily(own, type) {
            result.notes.append(
                "the config.json beside it describes a \(type) model, but the file itself says \(own): the folder's companion files are ignored"
            )
            return result
        }
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
        // transformers 5 writes `rope_parameters` (per layer type for Gemma 3) instead of
        // rope_theta, rope_local_base_freq and rope_scaling.
        var ropeScaling = json["rope_scaling"]?.objectValue ?? []
        if let rope = json["rope_parameters"] {
            let global = rope["full_attention"] ?? rope
            if hints.parameters["rope_theta"] == nil, let theta = global["rope_theta"]?.doubleValue {
                hints.parameters["rope_theta"] = .f64(theta)
            }
            if hints.parameters["rope_local_base_freq"] == nil,
                let theta = rope["sliding_attention"]?["rope_theta"]?.doubleValue
            {
                hints.parameters["rope_local_base_freq"] = .f64(theta)
            }
            if ropeScaling.isEmpty { ropeScaling = (global.objectValue ?? []).filter { $0.key != "rope_theta" } }
        }
        // rope_scaling is an object; its scalars travel as `rope_scaling.NAME`.
        for (name, value) in ropeScaling {
            switch value {
            case .number(let text):
                if let integer = Int64(text) {
                    hints.parameters["rope_scaling.\(name)"] = .i64(integer)
                } else if let number = Double(text) {
                    hints.parameters["rope_scaling.\(name)"] = .f64(number)
                }
            case .string(let text): hints.parameters["rope_scaling.\(name)"] = .string(text)
            default: break
            }
        }
        result.architecture = hints
        result.attachments.merge(companions) { own, _ in own }
        return result
    }

    /// The architecture the file's own metadata states: GGUF's `general.architecture`, or
    /// the one Amalgam's trainer records.
    static func ownArchitecture(_ graph: ModelGraph) -> String? {
        graph.metadata["general.architecture"]?.stringValue ?? graph.metadata["amalgam.architecture"]?.stringValue
    }

    /// `llama` and `llama`, `gemma3` and `gemma3_text`, `qwen2` and `qwen2_moe`: one family.
    static func sameFamily(_ own: String, _ modelType: String) -> Bool {
        let (a, b) = (own.lowercased(), modelType.lowercased())
        return a == b || b.hasPrefix(a + "_") || a.hasPrefix(b + "_")
    }
}
