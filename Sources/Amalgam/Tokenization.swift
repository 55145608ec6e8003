import AmalgamCore
@_exported import Tuning

extension Amalgam {
    /// Tokenises a text file for training: one example per line, `LABEL<TAB>TEXT` or just
    /// TEXT (then no labels), into an npz of `input_ids`, `attention_mask`, `token_type_ids`
    /// (and `labels`), each sequence cut to `maximumLength` tokens.
    /// - Throws: one line naming the file and line for a label that is not a non-negative
    ///   integer, a file mixing labelled and unlabelled lines, or an empty file.
    public static func tokenize(
        _ path: String, tokenizer: WordPieceTokenizer, maximumLength: Int, output: String, overwrite: Bool = false
    ) throws -> (examples: Int, length: Int) {
        let outputs = OutputSet(overwrite: overwrite, protecting: identities(of: [path]))
        try outputs.reserve(output)
        let file = try MappedFile(path: path)
        let text = file.region.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        var sequences: [[Int]] = []
        var labels: [Int] = []
        var labelled: Bool?
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.hasSuffix("\r") ? line.dropLast() : line
            if content.isEmpty { continue }
            let tab = content.firstIndex(of: "\t")
            if labelled == nil { labelled = tab != nil }
            guard (tab != nil) == labelled else {
                throw AmalgamError(
                    .invalidFormat,
                    "line \(number + 1) \(labelled! ? "has no LABEL<TAB>" : "has a tab, earlier lines no label")",
                    file: path)
            }
            var body = content[...]
            if let tab {
                guard let label = Int(content[..<tab]), label >= 0 else {
                    throw AmalgamError(
                        .invalidFormat, "line \(number + 1): label '\(content[..<tab])' is not a non-negative integer",
                        file: path)
                }
                labels.append(label)
                body = content[content.index(after: tab)...]
            }
            sequences.append(tokenizer.encode(String(body), maximumLength: maximumLength))
        }
        guard !sequences.isEmpty else { throw AmalgamError(.invalidFormat, "holds no lines of text", file: path) }
        let graph = try TokenizedText.graph(
            sequences, labels: labelled == true ? labels : nil, padding: tokenizer.paddingID)
        let plan = try builtInFormats.writer(for: output).plan(graph, to: output, settings: OutputSettings())
        try plan.write(graph, into: outputs, progress: SilentProgress())
        try outputs.commit()
        return (sequences.count, graph["input_ids"]!.shape.dimensions[1])
    }
}
