import AmalgamCore
import Foundation
import Testing

@testable import Tuning
@testable import Zoo

/// WordNet's data lines, the gloss tasks' labels, and the WordPiece tokenizer.
struct TextTaskTests {
    @Test("a synset line: lexicographer file, part of speech, the definition without its examples")
    func parseLine() throws {
        let noun =
            "02084071 05 n 03 dog 0 domestic_dog 0 Canis_familiaris 0 023 @ 02083346 n 0000 | a member of the genus Canis; \"the dog barked all night\""
        let synset = try #require(WordNet.parse(noun[...], partOfSpeech: .noun))
        #expect(synset.offset == 2_084_071 && synset.lexicographerFile == 5)
        #expect(synset.definition == "a member of the genus Canis")
        let verb =
            "01835496 38 v 01 run 0 002 @ 01831531 v 0000 ~ 01835935 v 0000 01 + 02 00 | move fast by using one's feet"
        #expect(WordNet.parse(verb[...], partOfSpeech: .verb)?.definition == "move fast by using one's feet")
        #expect(WordNet.parse("not a synset"[...], partOfSpeech: .noun) == nil)
    }

    @Test("labels: 26 noun files, 15 verb files, the groups cover them all")
    func labels() {
        let tasks = Dictionary(uniqueKeysWithValues: TextTask.all.map { ($0.name, $0) })
        #expect(TextTask.all.count == 6)
        func synset(_ file: Int, _ pos: WordNetSynset.PartOfSpeech) -> WordNetSynset {
            WordNetSynset(offset: 0, lexicographerFile: file, partOfSpeech: pos, definition: "x")
        }
        #expect(tasks["noun-supersense"]!.label(synset(5, .noun)) == 2)
        #expect(tasks["noun-supersense"]!.label(synset(38, .verb)) == nil)
        #expect(tasks["verb-supersense"]!.label(synset(38, .verb)) == 9)
        #expect(tasks["adjective-kind"]!.label(synset(44, .adjective)) == 2)
        #expect(Set(TextTask.nounGroup.keys) == Set(3...28) && Set(TextTask.nounGroup.values) == Set(0..<5))
        #expect(Set(TextTask.verbGroup.keys) == Set(29...43) && Set(TextTask.verbGroup.values) == Set(0..<3))
    }

    @Test("WordPiece: lowercase, accents stripped, punctuation split, ## continuations, [UNK], truncation")
    func wordPiece() throws {
        let path = NSTemporaryDirectory() + "/amalgam-vocab-\(getpid()).txt"
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\ncat\nsat\ncafe\n##s\n.\n,\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tokenizer = try WordPieceTokenizer(file: path)
        #expect(tokenizer.encode("The CATS sat.") == [2, 4, 5, 8, 6, 9, 3])
        #expect(tokenizer.encode("Café,dog") == [2, 7, 10, 1, 3])
        #expect(tokenizer.encode("the cat sat", maximumLength: 4) == [2, 4, 5, 3])
        #expect(tokenizer.encode(String(repeating: "s", count: 101)) == [2, 1, 3])
    }
}
