import AmalgamCore

/// Hugging Face's `tokenizer_config.json` to and from GGUF's tokenizer keys: the chat
/// template, the special tokens and whether a BOS/EOS token is added.
enum TokenizerConfig {
    /// tokenizer_config.json for the tokenizer in GGUF `metadata`; nil when it has no tokens.
    static func export(from metadata: Metadata) -> JSONValue? {
        guard case .array(let values)? = metadata["tokenizer.ggml.tokens"] else { return nil }
        let tokens = values.map { $0.stringValue ?? "" }
        let types: [Int] = {
            guard case .array(let values)? = metadata["tokenizer.ggml.token_type"] else { return [] }
            return values.map { $0.intValue ?? 1 }
        }()
        var members: [(String, JSONValue)] = []
        for (key, name) in [
            ("add_bos_token", "add_bos_token"), ("add_eos_token", "add_eos_token"),
            ("add_space_prefix", "add_prefix_space"),
        ] {
            if case .bool(let flag)? = metadata["tokenizer.ggml.\(key)"] { members.append((name, .bool(flag))) }
        }
        let decoder: [(String, JSONValue)] = tokens.indices.filter {
            $0 < types.count && (types[$0] == 3 || types[$0] == 4)
        }
        .map { id in
            (
                String(id),
                .object([
                    ("content", .string(tokens[id])), ("lstrip", .bool(false)), ("normalized", .bool(types[id] == 4)),
                    ("rstrip", .bool(false)), ("single_word", .bool(false)), ("special", .bool(types[id] == 3)),
                ])
            )
        }
        members.append(("added_tokens_decoder", .object(decoder)))
        for (key, name) in [
            ("bos_token_id", "bos_token"), ("eos_token_id", "eos_token"), ("unknown_token_id", "unk_token"),
            ("padding_token_id", "pad_token"), ("seperator_token_id", "sep_token"), ("mask_token_id", "mask_token"),
        ] {
            if let id = metadata["tokenizer.ggml.\(key)"]?.intValue, id >= 0, id < tokens.count {
                members.append((name, .string(tokens[id])))
            }
        }
        if let template = metadata["tokenizer.chat_template"]?.stringValue {
            members.append(("chat_template", .string(template)))
        }
        members.append(("clean_up_tokenization_spaces", .bool(false)))
        if let architecture = metadata["general.architecture"]?.stringValue,
            let length = metadata["\(architecture).context_length"]?.intValue
        {
            members.append(("model_max_length", .integer(length)))
        }
        members.append(("tokenizer_class", .string("PreTrainedTokenizerFast")))
        return .object(members)
    }

    /// GGUF keys from tokenizer_config.json (and a `chat_template.jinja` beside it):
    /// `tokenizer.chat_template`, `add_bos_token`/`add_eos_token`, and the special token
    /// ids of the tokens it names (`tokens`: the vocabulary, by id).
    static func ggufMetadata(config: JSONValue?, template: String?, tokens: [String]) -> Metadata {
        var metadata = Metadata()
        if let config {
            for (name, key) in [
                ("add_bos_token", "add_bos_token"), ("add_eos_token", "add_eos_token"),
                ("add_prefix_space", "add_space_prefix"),
            ] {
                if case .bool(let flag)? = config[name] { metadata["tokenizer.ggml.\(key)"] = .bool(flag) }
            }
            let ids = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
            for (name, key) in [
                ("bos_token", "bos_token_id"), ("eos_token", "eos_token_id"), ("unk_token", "unknown_token_id"),
                ("pad_token", "padding_token_id"), ("sep_token", "seperator_token_id"), ("mask_token", "mask_token_id"),
            ] {
                // A token is a string, or an AddedToken object with its content.
                guard let content = config[name]?.stringValue ?? config[name]?["content"]?.stringValue,
                    let id = ids[content]
                else { continue }
                metadata["tokenizer.ggml.\(key)"] = .u32(UInt32(id))
            }
            switch config["chat_template"] {
            case .string(let text)?: metadata["tokenizer.chat_template"] = .string(text)
            case .array(let named)?:
                // Several named templates: GGUF holds the default one.
                if let text = named.first(where: { $0["name"]?.stringValue == "default" })?["template"]?.stringValue
                    ?? named.first?["template"]?.stringValue
                {
                    metadata["tokenizer.chat_template"] = .string(text)
                }
            default: break
            }
        }
        if metadata["tokenizer.chat_template"] == nil, let template {
            metadata["tokenizer.chat_template"] = .string(template)
        }
        return metadata
    }
}
