import AmalgamCore

/// Byte-level BPE pre-tokenizers under both of their names: llama.cpp's
/// `tokenizer.ggml.pre` (which picks its split regexes) and the `pre_tokenizer` of a Hugging
/// Face tokenizer.json (which runs the same splits). The table holds the ones whose
/// tokenizer.json form is known exactly; others are matched by nothing and written as GPT-2's.
enum PreTokenizers {
    /// GPT-2's split, tokenizers' ByteLevel `use_regex` default.
    static let gpt2Pattern =
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    /// Llama 3's split (tokenizer.json's spelling; llama.cpp adapts the case-insensitive group).
    static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Qwen 2's split: Llama 3's with single digits.
    static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    static func byteLevel(regex: Bool) -> JSONValue {
        .object([
            ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)),
            ("use_regex", .bool(regex)),
        ])
    }

    static func split(_ pattern: String) -> JSONValue {
        .object([
            ("type", .string("Split")), ("pattern", .object([("Regex", .string(pattern))])),
            ("behavior", .string("Isolated")), ("invert", .bool(false)),
        ])
    }

    /// A `Sequence` of pre-tokenizers (or, with `key: "processors"`, of post-processors).
    static func sequence(_ parts: [JSONValue], key: String = "pretokenizers") -> JSONValue {
        .object([("type", .string("Sequence")), (key, .array(parts))])
    }

    /// tokenizer.json's `pre_tokenizer` for llama.cpp's pre-tokenizer `name`; nil when the
    /// table does not know it.
    static func huggingFace(for name: String) -> JSONValue? {
        switch name {
        case "gpt-2", "gpt2": byteLevel(regex: true)
        case "smollm":
            sequence([
                .object([("type", .string("Digits")), ("individual_digits", .bool(true))]), byteLevel(regex: true),
            ])
        case "llama-bpe", "llama3", "llama-v3": sequence([split(llama3Pattern), byteLevel(regex: false)])
        case "qwen2": sequence([split(qwen2Pattern), byteLevel(regex: false)])
        default: nil
        }
    }

    /// Whether llama.cpp takes a pre-tokenized word found whole in the vocabulary without
    /// merging (tokenizer.json's `ignore_merges`), for the names in this table.
    static func ignoresMerges(_ name: String) -> Bool { ["llama-bpe", "llama3", "llama-v3"].contains(name) }

    /// llama.cpp's name for a tokenizer.json `pre_tokenizer`; nil when the table has none.
    static func llamaCpp(for preTokenizer: JSONValue?) -> String? {
        guard let preTokenizer else { return nil }
        for name in ["gpt-2", "smollm", "llama-bpe", "qwen2"] where equivalent(preTokenizer, huggingFace(for: name)!) {
            return name
        }
        return nil
    }

    /// The same pre-tokenizer: same types, patterns and flags (`trim_offsets`, which only
    /// moves offsets, is not compared).
    static func equivalent(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)):
            let keys = Set(x.map(\.key) + y.map(\.key)).subtracting(["trim_offsets"])
            return keys.allSatisfy { key in
                switch (a[key], b[key]) {
                case (nil, nil): true
                case (let p?, let q?): equivalent(p, q)
                default: false
                }
            }
        case (.array(let x), .array(let y)):
            return x.count == y.count && zip(x, y).allSatisfy(equivalent)
        default:
            return a == b
        }
    }
}
