import AmalgamCore

/// WordNet's synsets as its `data.noun`, `data.verb`, `data.adj` and `data.adv` files hold
/// them (one synset per line: offset, lexicographer file number, synset type, words,
/// pointers, `| gloss`), with what the gloss tasks need: the lexicographer file (noun and
/// verb supersenses, adjective kinds), the part of speech, and the definition.
struct WordNetSynset: Sendable {
    enum PartOfSpeech: Int, Sendable, CaseIterable {
        case noun, verb, adjective, adverb
    }

    let offset: Int
    /// 0-44: `adj.all`, `adj.pert`, `adv.all`, `noun.Tops` ... `noun.time` (3-28),
    /// `verb.body` ... `verb.weather` (29-43), `adj.ppl` (44).
    let lexicographerFile: Int
    let partOfSpeech: PartOfSpeech
    /// The gloss up to its first quoted example: the definition.
    let definition: String
}

enum WordNet {
    /// Every synset of the four data files in `folder`, in file order.
    /// - Throws: one line naming the file and line that is not a synset.
    static func synsets(in folder: String) throws -> [WordNetSynset] {
        var result: [WordNetSynset] = []
        for (name, pos) in [
            ("noun", WordNetSynset.PartOfSpeech.noun), ("verb", .verb), ("adj", .adjective), ("adv", .adverb),
        ] {
            let path = folder + "/data." + name
            let file = try MappedFile(path: path)
            let text = file.region.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
            for (number, line) in text.split(separator: "\n").enumerated() where !line.hasPrefix("  ") {
                guard let synset = parse(line, partOfSpeech: pos) else {
                    throw AmalgamError(.invalidFormat, "line \(number + 1) is not a WordNet synset", file: path)
                }
                result.append(synset)
            }
        }
        return result
    }

    /// `offset lex_filenum ss_type w_cnt word lex_id ... | gloss`.
    static func parse(_ line: Substring, partOfSpeech: WordNetSynset.PartOfSpeech) -> WordNetSynset? {
        let fields = line.split(separator: " ", maxSplits: 3)
        guard fields.count == 4, let offset = Int(fields[0]), let file = Int(fields[1]), (0...44).contains(file),
            let bar = line.range(of: " | ")
        else { return nil }
        let gloss = line[bar.upperBound...]
        let end = gloss.range(of: "; \"")?.lowerBound ?? gloss.endIndex
        var definition = gloss[..<end]
        while definition.last == " " || definition.last == ";" { definition = definition.dropLast() }
        guard !definition.isEmpty else { return nil }
        return WordNetSynset(
            offset: offset, lexicographerFile: file, partOfSpeech: partOfSpeech, definition: String(definition))
    }
}
