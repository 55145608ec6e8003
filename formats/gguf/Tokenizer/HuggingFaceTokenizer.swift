import AmalgamCore

/// Builds a Hugging Face `tokenizer.json` from GGUF's `tokenizer.ggml.*` keys.
///
/// - `gpt2` (byte-level BPE: SmolLM2, Qwen, GPT-2): vocabulary and merges carried exactly;
///   byte-level pre-tokenizer and decoder; control and user-defined tokens become added
///   tokens.
/// - `llama` (SentencePiece): a Unigram model over the pieces and their scores with byte
///   fallback. SentencePiece BPE models are tokenised by score too, so segmentations can
///   differ from the original on rare words; this is the closest form tokenizers accepts
///   without the original merges.
/// - `bert` (WordPiece): vocabulary with the `##` continuation prefix.
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

        func addedTokens(specialTypes: Set<Int>) -> JSONValue {
            .array(
                tokens.indices.filter { $0 < types.count && specialTypes.contains(types[$0]) }.map { id in
                    .object([
                        ("id", .integer(id)), ("content", .string(tokens[id])), ("single_word", .bool(false)),
                        ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(types[id] == 4)),
                        ("special", .bool(types[id] == 3)),
                    ])
                })
        }
        let vocabulary = JSONValue.object(tokens.enumerated().map { ($1, .integer($0)) })

        switch model {
        case "gpt2":
            let byteLevel = PreTokenizers.byteLevel(regex: true)
            // The split llama.cpp's pre-tokenizer names, where the table knows it (GPT-2's else).
            let pre = metadata["tokenizer.ggml.pre"]?.stringValue.flatMap(PreTokenizers.huggingFace(for:)) ?? byteLevel
            return (
                "tokenizer.json",
                .object([
                    ("version", .string("1.0")), ("truncation", .null), ("padding", .null),
                    ("added_tokens", addedTokens(specialTypes: [3, 4])),
                    ("normalizer", .null), ("pre_tokenizer", pre), ("post_processor", byteLevel),
                    ("decoder", byteLevel),
                    (
                        "model",
                        .object([
                            ("type", .string("BPE")), ("dropout", .null),
                            ("unk_token", unknown.map { .string(tokens[$0]) } ?? .null),
                            ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null),
                            ("fuse_unk", .bool(false)),
                            ("byte_fallback", .bool(false)), ("ignore_merges", .bool(false)),
                            ("vocab", vocabulary), ("merges", .array(merges.map { .string($0) })),
                        ])
                    ),
                ])
            )
        case "llama":
            let pieces: JSONValue = .array(
                tokens.indices.map {
                    .array([
                        .string(tokens[$0]), .number(String($0 < scores.count && scores[$0].isFinite ? scores[$0] : 0)),
                    ])
                })
            return (
                "tokenizer.json",
                .object([
                    ("version", .string("1.0")), ("truncation", .null), ("padding", .null),
                    ("added_tokens", addedTokens(specialTypes: [3, 4])),
                    (
                        "normalizer",
                        .object([
                            ("type", .string("Sequence")),
                            (
                                "normalizers",
                                .array([
                                    .object([("type", .string("Prepend")), ("prepend", .string("\u{2581}"))]),
                                    .object([
                                        ("type", .string("Replace")), ("pattern", .object([("String", .string(" "))])),
                                        ("content", .string("\u{2581}")),
                                    ]),
                                ])
                            ),
                        ])
                    ),
                    ("pre_tokenizer", .null), ("post_processor", .null),
                    (
                        "decoder",
                        .object([
                            ("type", .string("Sequence")),
                            (
                                "decoders",
                                .array([
                                    .object([
                                        ("type", .string("Replace")),
                                        ("pattern", .object([("String", .string("\u{2581}"))])),
                                        ("content", .string(" ")),
                                    ]),
                                    .object([("type", .string("ByteFallback"))]), .object([("type", .string("Fuse"))]),
                                    .object([
                                        ("type", .string("Strip")), ("content", .string(" ")), ("start", .integer(1)),
                                        ("stop", .integer(0)),
                                    ]),
                                ])
                            ),
                        ])
                    ),
                    (
                        "model",
                        .object([
                            ("type", .string("Unigram")), ("unk_id", unknown.map { .integer($0) } ?? .null),
                            ("vocab", pieces), ("byte_fallback", .bool(true)),
                        ])
                    ),
                ])
            )
        case "bert":
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
                            ("unk_token", .string(unknown.map { tokens[$0] } ?? "[UNK]")),
                            ("continuing_subword_prefix", .string("##")), ("max_input_chars_per_word", .integer(100)),
                            ("vocab", vocabulary),
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
}
