/// A string compared and hashed by its UTF-8 bytes. Swift's `String` equality is canonical
/// equivalence, which would merge keys that JSON, tokenizers and llama.cpp keep apart (a
/// precomposed letter and its decomposed spelling are two vocabulary pieces).
public struct ExactText: Hashable, Sendable {
    public let text: String
    public init(_ text: String) { self.text = text }

    public static func == (a: ExactText, b: ExactText) -> Bool { a.text.utf8.elementsEqual(b.text.utf8) }

    public func hash(into hasher: inout Hasher) {
        var copy = text
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}
