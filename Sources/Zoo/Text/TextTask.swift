/// One task of the text zoo: a label for a WordNet synset from its definition alone.
struct TextTask: Sendable {
    let name: String
    let summary: String
    let classes: Int
    /// The synset's label; nil leaves it out of the task.
    let label: @Sendable (WordNetSynset) -> Int?
    /// Take equally many examples of each label (the parts of speech are very unequal).
    let balanced: Bool

    static let all: [TextTask] = [
        TextTask(
            name: "noun-supersense", summary: "a noun's lexicographer file (noun.animal, noun.act, ...), 26 classes",
            classes: 26, label: { $0.partOfSpeech == .noun ? $0.lexicographerFile - 3 : nil }, balanced: false),
        TextTask(
            name: "verb-supersense", summary: "a verb's lexicographer file (verb.motion, ...), 15 classes", classes: 15,
            label: { $0.partOfSpeech == .verb ? $0.lexicographerFile - 29 : nil }, balanced: false),
        TextTask(
            name: "part-of-speech", summary: "noun / verb / adjective / adverb", classes: 4,
            label: { $0.partOfSpeech.rawValue }, balanced: true),
        TextTask(
            name: "noun-group",
            summary: "living / artefacts and matter / mind / events and states / relations and measures",
            classes: 5, label: { $0.partOfSpeech == .noun ? nounGroup[$0.lexicographerFile] : nil }, balanced: false),
        TextTask(
            name: "adjective-kind", summary: "descriptive / relational (pertainym) / participial", classes: 3,
            label: { synset in
                guard synset.partOfSpeech == .adjective else { return nil }
                return [0: 0, 1: 1, 44: 2][synset.lexicographerFile]
            }, balanced: true),
        TextTask(
            name: "verb-group", summary: "physical / mental and communicative / social and stative", classes: 3,
            label: { $0.partOfSpeech == .verb ? verbGroup[$0.lexicographerFile] : nil }, balanced: false),
    ]

    /// The 26 noun files in five groups.
    static let nounGroup: [Int: Int] = [
        5: 0, 8: 0, 18: 0, 20: 0,  // animal, body, person, plant
        6: 1, 13: 1, 17: 1, 27: 1,  // artifact, food, object, substance
        9: 2, 10: 2, 12: 2, 16: 2,  // cognition, communication, feeling, motive
        4: 3, 11: 3, 19: 3, 22: 3, 26: 3, 28: 3,  // act, event, phenomenon, process, state, time
        // Tops, attribute, group, location, possession, quantity, relation, shape
        3: 4, 7: 4, 14: 4, 15: 4, 21: 4, 23: 4, 24: 4, 25: 4,
    ]
    /// The 15 verb files in three groups.
    static let verbGroup: [Int: Int] = [
        // body, change, consumption, contact, creation, motion, weather
        29: 0, 30: 0, 34: 0, 35: 0, 36: 0, 38: 0, 43: 0,
        31: 1, 32: 1, 37: 1, 39: 1,  // cognition, communication, emotion, perception
        33: 2, 40: 2, 41: 2, 42: 2,  // competition, possession, social, stative
    ]
}
