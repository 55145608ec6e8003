/// How WordPiece pieces are spelled on each side. tokenizer.json marks a piece that continues a
/// word with `##`; llama.cpp's GGUF (convert_hf_to_gguf's BERT vocabulary) instead marks a piece
/// that starts a word with `▁` and leaves continuations bare. Bracketed pieces (`[CLS]`,
/// `[unused0]`) are the same in both.
enum WordPieceSpelling {
    static let wordStart = "\u{2581}"

    /// Whether a GGUF vocabulary uses llama.cpp's spelling (no `##` anywhere, some `▁`).
    static func isLlamaCpp(_ tokens: [String]) -> Bool {
        !tokens.contains { $0.hasPrefix("##") } && tokens.contains { $0.hasPrefix(wordStart) }
    }

    static func isBracketed(_ token: String) -> Bool { token.hasPrefix("[") && token.hasSuffix("]") }

    /// A GGUF piece as tokenizer.json spells it.
    static func huggingFace(_ token: String) -> String {
        if isBracketed(token) { return token }
        if token.hasPrefix(wordStart) { return String(token.dropFirst()) }
        return "##" + token
    }

    /// A tokenizer.json piece as llama.cpp spells it.
    static func llamaCpp(_ token: String) -> String {
        if isBracketed(token) { return token }
        if token.hasPrefix("##") { return String(token.dropFirst(2)) }
        return wordStart + token
    }
}
