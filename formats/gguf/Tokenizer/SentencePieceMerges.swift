import AmalgamCore

/// Moves a SentencePiece BPE vocabulary between its two descriptions: GGUF's (pieces with
/// scores; llama.cpp merges the adjacent pair whose joined piece scores highest, leftmost on
/// ties) and tokenizer.json's (a BPE model with ranked merges; the lowest-ranked pair present is
/// merged, leftmost on ties). Both pick the same pair when merge ranks follow the joined
/// pieces' scores, which is how transformers' GGUF converter rebuilds them.
enum SentencePieceMerges {
    /// tokenizer.json merges for `tokens` with llama.cpp `scores`, as transformers derives them
    /// from a GGUF without merges: for every distinct piece (first occurrence order), each split
    /// into two pieces of the vocabulary (split at every code point), those ordered by the two
    /// halves' scores (highest first); then all of them by the joined piece's score (highest
    /// first). Both sorts are stable. A repeated piece keeps the score of its last occurrence.
    ///
    /// - Complexity: O(L) dictionary lookups for L code points in the vocabulary, then
    ///   O(M log M) for M merges.
    static func merges(tokens: [String], scores: [Double]) -> [(String, String)] {
        var score: [ExactText: Double] = [:]
        score.reserveCapacity(tokens.count)
        var order: [String] = []
        order.reserveCapacity(tokens.count)
        for (id, token) in tokens.enumerated() {
            if score.updateValue(id < scores.count ? scores[id] : 0, forKey: ExactText(token)) == nil {
                order.append(token)
            }
        }
        var merges: [(left: String, right: String, score: Double, position: Int)] = []
        for piece in order {
            let scalars = Array(piece.unicodeScalars)
            guard scalars.count > 1 else { continue }
            var local: [(left: String, right: String, leftScore: Double, rightScore: Double)] = []
            for cut in 1..<scalars.count {
                let left = String(String.UnicodeScalarView(scalars[..<cut]))
                let right = String(String.UnicodeScalarView(scalars[cut...]))
                if let leftScore = score[ExactText(left)], let rightScore = score[ExactText(right)] {
                    local.append((left, right, leftScore, rightScore))
                }
            }
            // Stable: `cut` breaks ties, as Python's sort keeps their order.
            let ranked = local.enumerated().sorted { a, b in
                if a.element.leftScore != b.element.leftScore { return a.element.leftScore > b.element.leftScore }
                if a.element.rightScore != b.element.rightScore { return a.element.rightScore > b.element.rightScore }
                return a.offset < b.offset
            }
            let joined = score[ExactText(piece)]!
            for entry in ranked { merges.append((entry.element.left, entry.element.right, joined, merges.count)) }
        }
        merges.sort { $0.score != $1.score ? $0.score > $1.score : $0.position < $1.position }
        return merges.map { ($0.left, $0.right) }
    }

    /// llama.cpp scores for a BPE vocabulary with ranked `merges`: a piece some merge produces
    /// scores minus the rank of the first such merge, so the highest score is the lowest rank;
    /// every other piece (single characters, bytes, added tokens) scores below all of them.
    static func scores(tokens: [String], merges: [(String, String)]) -> [Float] {
        var rank: [ExactText: Int] = [:]
        rank.reserveCapacity(merges.count)
        for (index, merge) in merges.enumerated() where rank[ExactText(merge.0 + merge.1)] == nil {
            rank[ExactText(merge.0 + merge.1)] = index
        }
        let floor = -Float(merges.count)
        return tokens.map { token in rank[ExactText(token)].map { Float(-$0) } ?? floor }
    }
}
