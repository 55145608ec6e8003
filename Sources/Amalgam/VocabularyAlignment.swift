/// mergekit's `tokenizer_source`: models whose vocabularies differ (fine-tunes that added
/// tokens) merged in one output vocabulary. Each model's embedding and head rows are permuted
/// to the output's token ids before the merge; a token a model lacks gets, as in mergekit,
/// the row of the only model that has it, else the base's, else the mean of the models that
/// have it (zero where none does). The output's tokenizer is the base's (`base`), one model's
/// (a path), or the base's with every other model's tokens appended as added tokens (`union`).
public enum TokenizerSource: Sendable, Equatable {
    case base
    case union
    case model(String)
}

/// A model's vocabulary from its tokenizer.json: token text to id, and the added tokens'
/// entries (to carry into a union).
struct Vocabulary {
    /// Token ids by text, only those below the model's row count.
    var ids: [String: Int] = [:]
    /// Texts in id order (ids are dense from 0).
    var tokens: [String] = []
    /// The added-token entries of tokenizer.json, by text.
    var added: [String: JSONValue] = [:]

    var count: Int { tokens.count }

    /// The vocabulary of `graph` (its tokenizer.json), cut to `rows` (its embedding rows).
    static func read(_ graph: ModelGraph, label: String, rows: Int) throws -> Vocabulary {
        guard let region = graph.attachments["tokenizer.json"] else {
            throw AmalgamError(.usage, "\(label) has no tokenizer.json beside it: tokenizer_source needs every model's")
        }
        let json = try AmalgamError.withContext(file: label + " (tokenizer.json)") {
            try region.withUnsafeBytes { (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }
        }
        var byID: [Int: String] = [:]
        switch json["model"]?["vocab"] {
        case .object(let members)?:
            for (token, id) in members { if let id = id.uint64Value.map(Int.init) { byID[id] = token } }
        case .array(let pieces)?:
            for (id, piece) in pieces.enumerated() {
                if let token = piece.arrayValue?.first?.stringValue { byID[id] = token }
            }
        default:
            throw AmalgamError(.invalidFormat, "\(label)'s tokenizer.json has no model vocabulary")
        }
        var vocabulary = Vocabulary()
        for entry in json["added_tokens"]?.arrayValue ?? [] {
            guard let id = entry["id"]?.uint64Value.map(Int.init), let content = entry["content"]?.stringValue else {
                continue
            }
            byID[id] = content
            if id < rows { vocabulary.added[content] = entry }
        }
        for id in 0..<rows {
            guard let token = byID[id] else { break }
            if vocabulary.ids[token] == nil { vocabulary.ids[token] = id }
            vocabulary.tokens.append(token)
        }
        return vocabulary
    }
}

/// The output vocabulary and how each model's rows map into it.
struct VocabularyAlignment {
    var output: Vocabulary
    /// The output tokenizer.json (nil: the base's stays).
    var tokenizerJSON: JSONValue?
    /// Other companion files of the tokenizer's model (`tokenizer_source: MODEL`).
    var tokenizerFiles: [String: ByteRegion] = [:]

    /// The tensors that are indexed by token: embeddings and output heads whose rows are
    /// the vocabulary.
    static func isVocabularyTensor(_ tensor: Tensor, rows: Int) -> Bool {
        let role = LayerPosition(name: tensor.name).role
        return (role == .tokenEmbedding || role == .outputHead) && tensor.shape.rank == 2
            && tensor.shape.dimensions[0] == rows
    }

    /// The embedding row count of `graph` (its token embedding's rows).
    static func rows(of graph: ModelGraph, label: String) throws -> Int {
        guard let embedding = graph.tensors.first(where: { LayerPosition(name: $0.name).role == .tokenEmbedding })
        else {
            throw AmalgamError(.usage, "\(label) has no token embedding: tokenizer_source needs one")
        }
        return embedding.shape.dimensions[0]
    }

    /// Aligns `models` (the base first) to the vocabulary `source` names; returns the models
    /// with permuted vocabulary tensors and the output's tokenizer and configuration.
    /// - Parameter hasBase: the first model is the merge's base (mergekit's base_model),
    ///   whose rows fill in tokens other models lack; without one, the donors' mean does.
    static func align(
        _ models: [ModelGraph], labels: [String], source: TokenizerSource, hasBase: Bool = true
    ) throws -> [ModelGraph] {
        let rows = try zip(models, labels).map { try Self.rows(of: $0, label: $1) }
        let vocabularies = try models.indices.map { try Vocabulary.read(models[$0], label: labels[$0], rows: rows[$0]) }
        var output: Vocabulary
        var tokenizer = try models[0].attachments["tokenizer.json"].map { region in
            try region.withUnsafeBytes { (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }
        }
        var companions = models[0].attachments.filter {
            $0.key.hasPrefix("tokenizer") || $0.key == "special_tokens_map.json"
        }
        switch source {
        case .base:
            output = vocabularies[0]
        case .model(let path):
            guard let index = labels.firstIndex(of: path) else {
                throw AmalgamError(.usage, "tokenizer_source '\(path)' is not one of the models merged")
            }
            output = vocabularies[index]
            tokenizer = nil
            companions = models[index].attachments.filter {
                $0.key.hasPrefix("tokenizer") || $0.key == "special_tokens_map.json"
            }
        case .union:
            output = vocabularies[0]
            var appended: [JSONValue] = []
            // Each model's own tokens first, then the added ones, in id order, as new added tokens.
            for vocabulary in vocabularies.dropFirst() {
                for token in vocabulary.tokens where output.ids[token] == nil && vocabulary.added[token] == nil {
                    appended.append(Self.addedToken(token, id: output.count, like: nil))
                    output.ids[token] = output.count
                    output.tokens.append(token)
                }
            }
            for vocabulary in vocabularies.dropFirst() {
                for token in vocabulary.tokens where output.ids[token] == nil {
                    appended.append(Self.addedToken(token, id: output.count, like: vocabulary.added[token]))
                    output.ids[token] = output.count
                    output.tokens.append(token)
                }
            }
            if case .object(var members)? = tokenizer {
                if let index = members.firstIndex(where: { $0.key == "added_tokens" }) {
                    members[index].value = .array((members[index].value.arrayValue ?? []) + appended)
                } else {
                    members.append(("added_tokens", .array(appended)))
                }
                tokenizer = .object(members)
            }
        }
        // Per model: output id -> its row, or nil.
        let permutations = vocabularies.map { vocabulary in output.tokens.map { vocabulary.ids[$0] } }
        let identity = zip(permutations, rows).allSatisfy { permutation, count in
            permutation.count == count && permutation.enumerated().allSatisfy { $0.element == $0.offset }
        }
        if identity && source == .base {
            return models  // one vocabulary already: nothing to permute
        }
        var result: [ModelGraph] = []
        for (index, model) in models.enumerated() {
            var graph = try model.mapTensors { tensor in
                guard isVocabularyTensor(tensor, rows: rows[index]) else { return tensor }
                let donors = models.indices.map { other in
                    models[other][tensor.name].flatMap { isVocabularyTensor($0, rows: rows[other]) ? $0 : nil }
                }
                return Self.permuted(
                    tensor, model: index, donors: donors, permutations: permutations, hasBase: hasBase)
            }
            graph.architecture.parameters["vocab_size"] = .i64(Int64(output.count))
            result.append(graph)
        }
        // The output (the base's graph) carries the output tokenizer and vocabulary size.
        var base = result[0]
        for key in base.attachments.keys where key.hasPrefix("tokenizer") || key == "special_tokens_map.json" {
            base.attachments[key] = nil
        }
        base.attachments.merge(companions) { _, new in new }
        if let tokenizer {
            base.attachments["tokenizer.json"] = ByteRegion(copying: Array(tokenizer.serialized().utf8))
        }
        if source != .base {
            // GGUF's tokenizer arrays describe the old vocabulary: GGUF outputs rebuild them from tokenizer.json.
            for key in base.metadata.keys where key.hasPrefix("tokenizer.ggml.") { base.metadata[key] = nil }
        }
        if let config = base.attachments["config.json"],
            let json = try? config.withUnsafeBytes({ (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }),
            case .object(var members) = json
        {
            for index in members.indices where members[index].key == "vocab_size" {
                members[index].value = .integer(output.count)
            }
            base.attachments["config.json"] = ByteRegion(
                copying: Array((JSONValue.object(members).serialized(pretty: true) + "\n").utf8))
        }
        result[0] = base
        return result
    }

    /// An added-token entry of tokenizer.json (`like`'s flags when the token was added in its model).
    static func addedToken(_ token: String, id: Int, like entry: JSONValue?) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [("id", .integer(id)), ("content", .string(token))]
        for (key, fallback) in [
            ("single_word", JSONValue.bool(false)), ("lstrip", .bool(false)), ("rstrip", .bool(false)),
            ("normalized", .bool(entry == nil)), ("special", .bool(false)),
        ] {
            members.append((key, entry?[key] ?? fallback))
        }
        return .object(members)
    }

    /// Model `model`'s vocabulary tensor with its rows in output order: its own row where it
    /// has the token, else (mergekit's default) the only donor's, the base's, or the mean of
    /// the donors' (zero where no model has the token).
    static func permuted(
        _ tensor: Tensor, model: Int, donors: [Tensor?], permutations: [[Int?]], hasBase: Bool
    ) -> Tensor {
        let columns = tensor.shape.dimensions[1]
        let rows = permutations[model].count
        let dtype = tensor.encoding.dtype ?? .f32
        return Tensor(
            name: tensor.name, originalName: tensor.originalName, shape: Shape([rows, columns]),
            encoding: .plain(dtype),
            storage: .deferred {
                var cache: [Int: [Float]] = [:]
                func values(_ index: Int) throws -> [Float]? {
                    if let known = cache[index] { return known }
                    guard let donor = donors[index] else { return nil }
                    let loaded = try donor.floatValues()
                    cache[index] = loaded
                    return loaded
                }
                var output = [Float](repeating: 0, count: rows * columns)
                let own = try values(model)!
                for token in 0..<rows {
                    let target = token * columns
                    if let row = permutations[model][token] {
                        for j in 0..<columns { output[target + j] = own[row * columns + j] }
                        continue
                    }
                    let holders = permutations.indices.filter { permutations[$0][token] != nil && donors[$0] != nil }
                    let chosen: [Int] = holders.count == 1 ? holders : hasBase && holders.contains(0) ? [0] : holders
                    guard !chosen.isEmpty else { continue }
                    var sum = [Float](repeating: 0, count: columns)
                    for holder in chosen {
                        let source = try values(holder)!
                        let row = permutations[holder][token]!
                        for j in 0..<columns { sum[j] += source[row * columns + j] }
                    }
                    for j in 0..<columns { output[target + j] = sum[j] / Float(chosen.count) }
                }
                return ElementConversion.region(output, as: dtype)
            })
    }
}
