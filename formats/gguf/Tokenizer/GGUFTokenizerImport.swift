import AmalgamCore

/// Builds GGUF's `tokenizer.ggml.*` keys from a Hugging Face `tokenizer.json` (the inverse
/// of `HuggingFaceTokenizer`): BPE models become `gpt2` (tokens, types, merges), Unigram
/// models `llama` (pieces, scores, types with byte pieces marked), WordPiece models `bert`.
enum GGUFTokenizerImport {
    /// The tokenizer keys from a model's companion files: tokenizer.json for the vocabulary
    /// and pre-tokenizer, tokenizer_config.json (or chat_template.jinja) for the chat template,
    /// special tokens and BOS/EOS flags, config.json's ids where the tokenizer config has none.
    /// Also returns what the user should know (a pre-tokenizer llama.cpp has no name for).
    static func metadata(from attachments: [String: ByteRegion], config: Metadata) -> (Metadata, [String])? {
        guard let region = attachments["tokenizer.json"], let json = parse(region),
            let base = metadata(json, config: config)
        else { return nil }
        var metadata = base
        var notes: [String] = []
        if metadata["tokenizer.ggml.model"] == .string("gpt2") {
            if let name = PreTokenizers.llamaCpp(for: json["pre_tokenizer"]) {
                metadata["tokenizer.ggml.pre"] = .string(name)
            } else {
                metadata["tokenizer.ggml.pre"] = .string("default")
                notes.append(
                    "the tokenizer's pre-tokenizer has no llama.cpp name Amalgam knows: tokenizer.ggml.pre is 'default', so llama.cpp may split text differently"
                )
            }
        }
        let tokens: [String] = {
            guard case .array(let values)? = metadata["tokenizer.ggml.tokens"] else { return [] }
            return values.compactMap(\.stringValue)
        }()
        let template = attachments["chat_template.jinja"].map { String(decoding: $0.bytes, as: UTF8.self) }
        let settings = TokenizerConfig.ggufMetadata(
            config: attachments["tokenizer_config.json"].flatMap(parse), template: template, tokens: tokens)
        for entry in settings { metadata[entry.key] = entry.value }
        return (metadata, notes)
    }

    static func parse(_ region: ByteRegion) -> JSONValue? {
        guard region.count < 200_000_000 else { return nil }
        return try? region.withUnsafeBytes { (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }
    }

    /// The vocabulary, scores, types, merges and special ids of a tokenizer.json.
    static func metadata(_ json: JSONValue, config: Metadata) -> Metadata? {
        guard let model = json["model"], let type = model["type"]?.stringValue else { return nil }

        var tokens: [String?] = []
        var scores: [Float] = []
        func place(_ token: String, _ id: Int) {
            guard id >= 0, id < 10_000_000 else { return }
            if tokens.count <= id { tokens += [String?](repeating: nil, count: id + 1 - tokens.count) }
            tokens[id] = token
        }
        switch type {
        case "BPE", "WordPiece":
            for (token, id) in model["vocab"]?.objectValue ?? [] {
                if let id = id.uint64Value { place(token, Int(id)) }
            }
        case "Unigram":
            for (id, entry) in (model["vocab"]?.arrayValue ?? []).enumerated() {
                guard let piece = entry.arrayValue?.first?.stringValue else { continue }
                place(piece, id)
                if scores.count < id { scores += [Float](repeating: 0, count: id - scores.count) }
                scores.append(Float(entry.arrayValue?.dropFirst().first?.doubleValue ?? 0))
            }
        default:
            return nil
        }
        var types = [Int32](repeating: 1, count: tokens.count)
        for added in json["added_tokens"]?.arrayValue ?? [] {
            guard let id = added["id"]?.uint64Value, let content = added["content"]?.stringValue else { continue }
            place(content, Int(id))
            if types.count < tokens.count { types += [Int32](repeating: 1, count: tokens.count - types.count) }
            types[Int(id)] = added["special"] == .bool(true) ? 3 : 4
        }
        // Ids must be dense for GGUF; a hole means a tokenizer this import does not understand.
        guard !tokens.isEmpty, tokens.allSatisfy({ $0 != nil }) else { return nil }
        let special = Set((json["added_tokens"]?.arrayValue ?? []).compactMap { $0["id"]?.uint64Value.map(Int.init) })
        // llama.cpp reads WordPiece pieces in its own spelling (word starts marked, not continuations).
        let list = tokens.enumerated().map { id, token in
            type == "WordPiece" && !special.contains(id) ? WordPieceSpelling.llamaCpp(token!) : token!
        }

        var metadata = Metadata()
        let merges: [(String, String)] = (model["merges"]?.arrayValue ?? []).compactMap { merge in
            // tokenizers writes merges as "a b" strings or, since 0.20, as ["a", "b"] pairs.
            if let text = merge.stringValue, let space = text.firstIndex(of: " ") {
                return (String(text[..<space]), String(text[text.index(after: space)...]))
            }
            if let pair = merge.arrayValue?.compactMap(\.stringValue), pair.count == 2 { return (pair[0], pair[1]) }
            return nil
        }
        // A BPE with byte fallback is SentencePiece's (Llama 2, Gemma): llama.cpp runs it as `llama`
        // with scores that order its merges; a byte-level BPE is `gpt2` with the merges themselves.
        let sentencePieceBPE = type == "BPE" && model["byte_fallback"] == .bool(true)
        let ggufModel = type == "BPE" && !sentencePieceBPE ? "gpt2" : (type == "WordPiece" ? "bert" : "llama")
        metadata["tokenizer.ggml.model"] = .string(ggufModel)
        metadata["tokenizer.ggml.tokens"] = .array(list.map { .string($0) })
        if sentencePieceBPE {
            scores = SentencePieceMerges.scores(tokens: list, merges: merges)
            metadata["tokenizer.ggml.add_space_prefix"] = .bool(prependsSpace(json))
        }
        if type == "Unigram" || sentencePieceBPE {
            for (id, token) in list.enumerated()
            where token.hasPrefix("<0x") && token.hasSuffix(">") && token.utf8.count == 6 { types[id] = 6 }
            if let unknown = model["unk_id"]?.uint64Value, Int(unknown) < types.count { types[Int(unknown)] = 2 }
            if let unknown = model["unk_token"]?.stringValue, let id = tokens.firstIndex(of: unknown) { types[id] = 2 }
            scores += [Float](repeating: 0, count: max(0, list.count - scores.count))
            metadata["tokenizer.ggml.scores"] = .array(scores.map { .f32($0) })
        }
        metadata["tokenizer.ggml.token_type"] = .array(types.map { .i32($0) })
        if type == "BPE" && !sentencePieceBPE && !merges.isEmpty {
            metadata["tokenizer.ggml.merges"] = .array(merges.map { .string($0.0 + " " + $0.1) })
        }
        for (hf, gguf) in [
            ("bos_token_id", "bos_token_id"), ("eos_token_id", "eos_token_id"), ("pad_token_id", "padding_token_id"),
        ] {
            if let id = config[hf]?.intValue ?? config[hf]?.stringValue.flatMap({ Int($0) }), id >= 0, id < list.count {
                metadata["tokenizer.ggml.\(gguf)"] = .u32(UInt32(id))
            }
        }
        if let unknown = model["unk_token"]?.stringValue, let id = tokens.firstIndex(of: unknown) {
            metadata["tokenizer.ggml.unknown_token_id"] = .u32(UInt32(id))
        } else if let unknown = model["unk_id"]?.uint64Value {
            metadata["tokenizer.ggml.unknown_token_id"] = .u32(UInt32(unknown))
        }
        return metadata
    }

    /// Whether a SentencePiece tokenizer.json puts `▁` before the text: a `Prepend` normalizer or
    /// a `Metaspace` pre-tokenizer that prepends.
    static func prependsSpace(_ json: JSONValue) -> Bool {
        func any(_ value: JSONValue?, _ test: (JSONValue) -> Bool) -> Bool {
            guard let value else { return false }
            if test(value) { return true }
            for key in ["normalizers", "pretokenizers"] {
                if let parts = value[key]?.arrayValue, parts.contains(where: { any($0, test) }) { return true }
            }
            return false
        }
        return any(json["normalizer"]) { $0["type"]?.stringValue == "Prepend" }
            || any(json["pre_tokenizer"]) {
                $0["type"]?.stringValue == "Metaspace"
                    && ($0["prepend_scheme"]?.stringValue.map { $0 != "never" }
                        ?? ($0["add_prefix_space"] == .bool(true)))
            }
    }
}
