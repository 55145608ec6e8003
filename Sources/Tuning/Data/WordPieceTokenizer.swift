import AmalgamCore
import Foundation

/// BERT's tokenizer (Hugging Face `tokenizers`' BertNormalizer, BertPreTokenizer, WordPiece
/// and the `[CLS] … [SEP]` template), read from a `tokenizer.json` or a `vocab.txt`.
///
/// Normalisation: control characters dropped and whitespace made a space (`clean_text`),
/// CJK ideographs set apart by spaces, accents stripped (NFD without non-spacing marks) and
/// lowercase, as the uncased models do. Pre-tokenisation: split at whitespace and around every
/// punctuation character. WordPiece: the longest vocabulary entry from the left, then the
/// longest `##` continuation, and so on; a word with no such split, or longer than
/// `maximumWordCharacters`, is `[UNK]`.
public struct WordPieceTokenizer: Sendable {
    let vocabulary: [String: Int]
    let continuationPrefix: String
    let maximumWordCharacters: Int
    let lowercase: Bool
    let stripAccents: Bool
    public let unknownID: Int
    public let classifierID: Int
    public let separatorID: Int
    public let paddingID: Int

    /// Reads `tokenizer.json` (a WordPiece model with a BERT normaliser) or `vocab.txt`
    /// (one token per line, uncased).
    /// - Throws: one line naming the file when it is neither, or lacks a special token.
    public init(file path: String) throws {
        let file = try MappedFile(path: path)
        var vocabulary: [String: Int] = [:]
        var prefix = "##"
        var unknown = "[UNK]"
        var longest = 100
        var lowercase = true
        var stripAccents = true
        if path.hasSuffix(".json") {
            let json = try file.region.withUnsafeBytes { try JSONParser.parse($0) }
            guard let model = json["model"], model["type"]?.stringValue == "WordPiece",
                let entries = model["vocab"]?.objectValue
            else {
                throw AmalgamError(
                    .unsupported, "is not a WordPiece tokenizer (model.type must be WordPiece)", file: path)
            }
            for (token, id) in entries {
                guard let id = id.uint64Value else {
                    throw AmalgamError(.invalidFormat, "vocabulary entry '\(token)' has no integer id", file: path)
                }
                vocabulary[token] = Int(id)
            }
            prefix = model["continuing_subword_prefix"]?.stringValue ?? prefix
            unknown = model["unk_token"]?.stringValue ?? unknown
            longest = model["max_input_chars_per_word"]?.uint64Value.map(Int.init) ?? longest
            if let normalizer = json["normalizer"], case .object = normalizer {
                guard normalizer["type"]?.stringValue == "BertNormalizer" else {
                    throw AmalgamError(
                        .unsupported,
                        "has a \(normalizer["type"]?.stringValue ?? "?") normalizer; BERT's (BertNormalizer) is supported",
                        file: path)
                }
                if case .bool(let value)? = normalizer["lowercase"] { lowercase = value }
                // strip_accents null follows lowercase, as in BERT.
                if case .bool(let value)? = normalizer["strip_accents"] {
                    stripAccents = value
                } else {
                    stripAccents = lowercase
                }
            }
        } else {
            let text = file.region.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let token = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
                if !token.isEmpty, vocabulary[token] == nil { vocabulary[token] = index }
            }
        }
        func special(_ token: String) throws -> Int {
            guard let id = vocabulary[token] else {
                throw AmalgamError(.invalidFormat, "the vocabulary has no \(token) token", file: path)
            }
            return id
        }
        self.vocabulary = vocabulary
        continuationPrefix = prefix
        maximumWordCharacters = longest
        self.lowercase = lowercase
        self.stripAccents = stripAccents
        unknownID = try special(unknown)
        classifierID = try special("[CLS]")
        separatorID = try special("[SEP]")
        paddingID = try special("[PAD]")
    }

    public var vocabularySize: Int { (vocabulary.values.max() ?? -1) + 1 }

    /// `[CLS]`, the text's word pieces, `[SEP]`; with `maximumLength`, the pieces are cut so
    /// the whole is at most that long.
    public func encode(_ text: String, maximumLength: Int? = nil) -> [Int] {
        var pieces: [Int] = []
        for word in Self.preTokenize(normalize(text)) { pieces += wordPieces(word) }
        if let maximumLength { pieces = Array(pieces.prefix(max(maximumLength - 2, 0))) }
        return [classifierID] + pieces + [separatorID]
    }

    /// The BERT normaliser: clean text, CJK spacing, accents and case.
    func normalize(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
            if Self.isWhitespace(scalar) {
                scalars.append(" ")
            } else if Self.isCJK(scalar) {
                scalars.append(" ")
                scalars.append(scalar)
                scalars.append(" ")
            } else {
                scalars.append(scalar)
            }
        }
        var result = String(scalars)
        if stripAccents {
            let decomposed = result.decomposedStringWithCanonicalMapping
            result = String(
                String.UnicodeScalarView(
                    decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }))
        }
        return lowercase ? result.lowercased() : result
    }

    /// Words: split at whitespace, every punctuation character a word of its own.
    static func preTokenize(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty { words.append(String(current)) }
            current = String.UnicodeScalarView()
        }
        for scalar in text.unicodeScalars {
            if isWhitespace(scalar) {
                flush()
            } else if isPunctuation(scalar) {
                flush()
                words.append(String(scalar))
            } else {
                current.append(scalar)
            }
        }
        flush()
        return words
    }

    /// Greedy longest-match-first WordPiece of one word.
    func wordPieces(_ word: String) -> [Int] {
        let characters = Array(word.unicodeScalars)
        guard characters.count <= maximumWordCharacters else { return [unknownID] }
        var pieces: [Int] = []
        var start = 0
        while start < characters.count {
            var end = characters.count
            var found: Int?
            while start < end {
                var piece = String(String.UnicodeScalarView(characters[start..<end]))
                if start > 0 { piece = continuationPrefix + piece }
                if let id = vocabulary[piece] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else { return [unknownID] }
            pieces.append(id)
            start = end
        }
        return pieces
    }

    /// `\t`, `\n`, `\r` and Unicode White_Space.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "\t" || scalar == "\n" || scalar == "\r" || scalar.properties.isWhitespace
    }

    /// Other (Cc, Cf, Cn, Co, Cs) except `\t`, `\n`, `\r`.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == "\t" || scalar == "\n" || scalar == "\r" { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// ASCII punctuation (`!` to `/`, `:` to `@`, `[` to `` ` ``, `{` to `~`) and Unicode P*.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .closePunctuation, .finalPunctuation, .initialPunctuation,
            .otherPunctuation, .openPunctuation:
            return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT sets apart.
    static func isCJK(_ scalar: Unicode.Scalar) -> Bool {
        let ranges: [ClosedRange<UInt32>] = [
            0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
            0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F,
        ]
        return ranges.contains { $0.contains(scalar.value) }
    }
}
