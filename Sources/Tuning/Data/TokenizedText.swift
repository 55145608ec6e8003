import AmalgamCore

/// Token sequences as the arrays a text dataset holds (`input_ids`, `attention_mask`,
/// `token_type_ids`, and `labels` when there are labels), padded to the longest sequence.
public enum TokenizedText {
    /// The npz arrays of `sequences` (each `[CLS] … [SEP]`), padded with `padding`.
    /// - Precondition: at least one sequence; `labels`, when given, one per sequence.
    public static func graph(_ sequences: [[Int]], labels: [Int]?, padding: Int) throws -> ModelGraph {
        precondition(!sequences.isEmpty && (labels == nil || labels!.count == sequences.count))
        let length = sequences.map(\.count).max()!
        var ids: [Int64] = []
        var mask: [Int64] = []
        ids.reserveCapacity(sequences.count * length)
        for sequence in sequences {
            ids += sequence.map(Int64.init) + [Int64](repeating: Int64(padding), count: length - sequence.count)
            mask += [Int64](repeating: 1, count: sequence.count) + [Int64](repeating: 0, count: length - sequence.count)
        }
        let shape = Shape([sequences.count, length])
        var tensors = [
            Tensor(name: "input_ids", shape: shape, integers: ids),
            Tensor(name: "attention_mask", shape: shape, integers: mask),
            Tensor(name: "token_type_ids", shape: shape, integers: [Int64](repeating: 0, count: ids.count)),
        ]
        if let labels {
            tensors.append(Tensor(name: "labels", shape: Shape([labels.count]), integers: labels.map(Int64.init)))
        }
        return try ModelGraph(tensors: tensors)
    }
}
