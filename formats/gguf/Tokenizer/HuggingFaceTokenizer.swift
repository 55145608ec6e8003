import AmalgamCore

/// Builds a Hugging Face `tokenizer.json` from GGUF's `tokenizer.ggml.*` keys.
///
/// - `gpt2` (byte-level BPE: SmolLM2, Qwen, GPT-2): vocabulary and merges carried exactly;
///   byte-level pre-tokenizer and decoder; control and user-defined tokens become added
///   tokens.
/// - `llama` (SentencePiece BPE: Llama 2, Gemma, Phi-3): a BPE model with byte fallback whose
///   merges are rebuilt from the scores as transformers' GGUF loader rebuilds them, so it splits
///   text as llama.cpp does; the space prefix follows `tokenizer.ggml.add_space_prefix`.
/// - `bert` (WordPiece): vocabulary with the `##` continuation prefix (llama.cpp's `▁` word starts
///   respelled, see WordPieceSpelling).
/// Other models get no tokenizer.json; their keys are written to `tokenizer_gguf.json`.
enum HuggingFaceTokenizer {
    /// (file name, contents) for the tokenizer in `metadata`, or nil when it has none.
    static func export(from metadata: Metadata) -> (name: String, json: JSONValue)? {
        guard case .array(let tokenValues)? = metadata["tokenizer.ggml.tokens"] else { return nil }
        let tokens = tokenValues.map { $0.stringValue ?? "" }
        let types: [Int] = {
            guard case .array(let values)? = metadata["tokenizer.ggml.token_type"] else { return [] }
            return values.map { $0.intValue ?? 1 }
        }()
        let scores: [Double] = {
            guard case .array(let values)? = metadata["tokenizer.ggml.scores"] else { return [] }
            return values.map { Double($0.description) ?? 0 }
        }()
        let merges: [String] = {
            guard case .array(let values)? = metadata["tokenizer.ggml.merges"] else { return [] }
            return values.map { $0.stringValue ?? "" }
        }()
        let model = metadata["tokenizer.ggml.model"]?.stringValue ?? ""
        let unknown = metadata["tokenizer.ggml.unknown_token_id"]?.intValue

        /// Control (3), user-defined (4) and, where asked, unknown (2) pieces as added tokens;
        /// `normalized` nil marks user-defined ones normalized, as tokenizers writes them.
        func addedTokens(specialTypes: Set<Int>, normalized: Bool? = nil) -> JSONValue {
            .array(
                tokens.indices.filter { $0 < types.count && specialTypes.contains(types[$0]) }.map { id in
                    .object([
                        ("id", .integer(id)), ("content", .string(tokens[id])), ("single_word", .bool(false)),
                        ("lstrip", .bool(false)), ("rstrip", .bool(false)),
                        ("normalized", .bool(normalized ?? (types[id] == 4))),
                        ("special", .bool(types[id] != 4)),
                    ])
                })
        }
        let vocabulary = JSONValue.object(tokens.enumerated().map { ($1, .integer($0)) })
        let template = bosEOSTemplate(metadata: metadata, tokens: tokens)

        switch model {
        case "gpt2":
            let byteLevel = PreTokenizers.byteLevel(regex: true)
            // The split llama.cpp's pre-tokenizer names, where the table knows it (GPT-2's else).
            let preName = metadata["tokenizer.ggml.pre"]?.stringValue ?? ""
            let pre = PreTokenizers.huggingFace(for: preName) ?? byteLevel
            return (
                "tokenizer.json",
                .object([
                    ("version", .string("1.0")), ("truncation", .null), ("padding", .null),
                    ("added_tokens", addedTokens(specialTypes: [3, 4])),
                    ("normalizer", .null), ("pre_tokenizer", pre),
                    (
                        "post_processor",
                        template.map { PreTokenizers.sequence([byteLevel, $0], key: "processors") } ?? byteLevel
                    ),
                    ("decoder", byteLevel),
                    (
                        "model",
                        .object([
                            ("type", .string("BPE")), ("dropout", .null),
                            ("unk_token", unknown.map { .string(tokens[$0]) } ?? .null),
                            ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null),
                            ("fuse_unk", .bool(false)),
                            ("byte_fallback", .bool(false)),
                            // llama.cpp takes a word that is a whole piece as it is for these splits.
                            ("ignore_merges", .bool(PreTokenizers.ignoresMerges(preName))),
                            ("vocab", vocabulary), ("merges", .array(merges.map { .string($0) })),
                        ])
                    ),
                ])
            )
        case "llama":
            // SentencePiece BPE: merges rebuilt from the scores (see SentencePieceMerges); pieces
            // and added tokens match as llama.cpp matches them (user-defined pieces on the raw text).
            let prefix = metadata["tokenizer.ggml.add_space_prefix"].map { $0 == .bool(true) } ?? true
            let merges = SentencePieceMerges.merges(tokens: tokens, scores: scores)
            let spaced = merges.contains { $0.0.contains(" ") || $0.1.contains(" ") }
            let replaceSpaces = JSONValue.object([
                ("type", .string("Replace")), ("pattern", .object([("String", .string(" "))])),
                ("content", .string("\u{2581}")),
            ])
            let normalizer: JSONValue =
                prefix
                ? .object([
                    ("type", .string("Sequence")),
                    (
                        "normalizers",
                        .array([
                            .object([("type", .string("Prepend")), ("prepend", .string("\u{2581}"))]), replaceSpaces,
                        ])
                    ),
                ]) : replaceSpaces
            var decoders: [JSONValue] = [
                .object([
                    ("type", .string("Replace")), ("pattern", .object([("String", .string("\u{2581}"))])),
                    ("content", .string(" ")),
                ]),
                .object([("type", .string("ByteFallback"))]), .object([("type", .string("Fuse"))]),
            ]
            if prefix {
                decoders.append(
                    .object([
                        ("type", .string("Strip")), ("content", .string(" ")), ("start", .integer(1)),
                        ("stop", .integer(0)),
                    ]))
            }
            return (
                "tokenizer.json",
                .object([
                    ("version", .string("1.0")), ("truncation", .null), ("padding", .null),
                    ("added_tokens", addedTokens(specialTypes: [2, 3, 4], normalized: false)),
                    ("normalizer", normalizer), ("pre_tokenizer", .null), ("post_processor", template ?? .null),
                    ("decoder", .object([("type", .string("Sequence")), ("decoders", .array(decoders))])),
                    (
                        "model",
                        .object([
                            ("type", .string("BPE")), ("dropout", .null),
                            ("unk_token", unknown.map { .string(tokens[$0]) } ?? .null),
                            ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null),
                            ("fuse_unk", .bool(true)), ("byte_fallback", .bool(true)), ("ignore_merges", .bool(false)),
                            ("vocab", vocabulary),
                            (
                                "merges",
                                .array(
                                    merges.map {
                                        // tokenizers reads "a b" strings and, since 0.20, ["a", "b"] pairs.
                                        spaced ? .array([.string($0.0), .string($0.1)]) : .string($0.0 + " " + $0.1)
                                    })
                            ),
                        ])
                    ),
                ])
            )
        case "bert":
            let pieces = WordPieceSpelling.isLlamaCpp(tokens) ? tokens.map(WordPieceSpelling.huggingFace) : tokens
            let wordPieceVocabulary = JSONValue.object(pieces.enumerated().map { ($1, .integer($0)) })
            return (
                "tokenizer.json",
                .object([
                    ("version", .string("1.0")), ("truncation", .null), ("padding", .null),
                    ("added_tokens", addedTokens(specialTypes: [3])),
                    (
                        "normalizer",
                        .object([
                            ("type", .string("BertNormalizer")), ("clean_text", .bool(true)),
                            ("handle_chinese_chars", .bool(true)),
                            ("strip_accents", .null), ("lowercase", .bool(true)),
                        ])
                    ),
                    ("pre_tokenizer", .object([("type", .string("BertPreTokenizer"))])), ("post_processor", .null),
                    (
                        "decoder",
                        .object([("type", .string("WordPiece")), ("prefix", .string("##")), ("cleanup", .bool(true))])
                    ),
                    (
                        "model",
                        .object([
                            ("type", .string("WordPiece")),
                            ("unk_token", .string(unknown.map { pieces[$0] } ?? "[UNK]")),
                            ("continuing_subword_prefix", .string("##")), ("max_input_chars_per_word", .integer(100)),
                            ("vocab", wordPieceVocabulary),
                        ])
                    ),
                ])
            )
        default:
            var members: [(String, JSONValue)] = [
                ("model", .string(model)), ("tokens", .array(tokens.map { .string($0) })),
            ]
            if !scores.isEmpty {
                members.append(("scores", .array(scores.map { .number(String($0.isFinite ? $0 : 0)) })))
            }
            if !types.isEmpty { members.append(("token_type", .array(types.map { .integer($0) }))) }
            if !merges.isEmpty { members.append(("merges", .array(merges.map { .string($0) }))) }
            return ("tokenizer_gguf.json", .object(members))
        }
    }

    /// The post-processor that adds BOS and EOS as llama.cpp does when the file asks for them
    /// (`add_bos_token`, `add_eos_token`); nil when it adds neither. A pair gets them around both.
    static func bosEOSTemplate(metadata: Metadata, tokens: [String]) -> JSONValue? {
        func marker(_ flag: String, _ id: String) -> (String, Int)? {
            guard metadata["tokenizer.ggml.\(flag)"] == .bool(true),
                let id = metadata["tokenizer.ggml.\(id)"]?.intValue,
                id >= 0, id < tokens.count
            else { return nil }
            return (tokens[id], id)
        }
        let bos = marker("add_bos_token", "bos_token_id")
        let eos = marker("add_eos_token", "eos_token_id")
        guard bos != nil || eos != nil else { return nil }
        func special(_ token: (String, Int)?, _ typeID: Int) -> [JSONValue] {
            token.map {
                [.object([("SpecialToken", .object([("id", .string($0.0)), ("type_id", .integer(typeID))]))])]
            }
                ?? []
        }
        func sequence(_ name: String, _ typeID: Int) -> JSONValue {
            .object([("Sequence", .object([("id", .string(name)), ("type_id", .integer(typeID))]))])
        }
        let single = special(bos, 0) + [sequence("A", 0)] + special(eos, 0)
        let pair = single + special(bos, 1) + [sequence("B", 1)] + special(eos, 1)
        var specials: [(String, JSONValue)] = []
        for token in [bos, eos].compactMap({ $0 }) where !specials.contains(where: { $0.0 == token.0 }) {
            specials.append(
                (
                    token.0,
                    .object([
                        ("id", .string(token.0)), ("ids", .array([.integer(token.1)])),
                        ("tokens", .array([.string(token.0)])),
                    ])
                ))
        }
        return .object([
            ("type", .string("TemplateProcessing")), ("single", .array(single)), ("pair", .array(pair)),
            ("special_tokens", .object(specials)),
        ])
    }
}
