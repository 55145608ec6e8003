import AmalgamCore
import LinearAlgebra

/// A BERT-style encoder (MiniLM, BERT): word + position + token-type embeddings with a
/// LayerNorm, post-LN blocks, pooling, and a linear head `classifier`.
final class BertClassifier: NetworkArchitecture {
    static let name = "bert"

    static func recognizes(_ graph: ModelGraph) -> Bool { prefix(in: graph) != nil }

    static func headClassCount(in graph: ModelGraph) -> Int? { classifierRows(graph) }

    static func build(store: ParameterStore, setup: TuningSetup, classes: Int) throws -> BertClassifier {
        try setup.refuse(["activation"], architecture: name)
        guard let prefix = prefix(in: store.graph) else {
            throw AmalgamError(.unsupported, "no BERT encoder (embeddings.word_embeddings.weight, encoder.layer.0...)")
        }
        return try BertClassifier(store: store, prefix: prefix, settings: setup.transformer, classes: classes)
    }

    var hasHiddenStates: Bool { true }

    func hiddenStates(_ inputs: Inputs) throws -> Matrix { try encode(inputs) }

    func check(_ data: Dataset, path: String) throws {
        func fail(_ message: String) -> AmalgamError { AmalgamError(.mismatch, message, file: path) }
        guard case .tokens(let length) = data.layout else {
            throw fail("holds feature vectors; a BERT encoder takes input_ids and attention_mask")
        }
        let vocabulary = word.table.value.rows
        if let largest = data.largestTokenID, largest >= vocabulary {
            throw fail("token id \(largest) is outside the vocabulary of \(vocabulary)")
        }
        if let largest = data.largestTypeID, largest >= (tokenType?.table.value.rows ?? 1) {
            throw fail("token type id \(largest) is outside the model's \(tokenType?.table.value.rows ?? 0) types")
        }
        guard length <= position.table.value.rows else {
            throw fail("sequences of \(length) tokens exceed the model's \(position.table.value.rows) positions")
        }
    }

    /// The text before `embeddings.word_embeddings.weight` (`""`, `bert.`), when the graph
    /// has a BERT encoder.
    static func prefix(in graph: ModelGraph) -> String? {
        for tensor in graph.tensors where tensor.name.hasSuffix("embeddings.word_embeddings.weight") {
            let prefix = String(tensor.name.dropLast("embeddings.word_embeddings.weight".count))
            if graph[prefix + "encoder.layer.0.attention.self.query.weight"] != nil { return prefix }
        }
        return nil
    }

    let word: Embedding, position: Embedding, tokenType: Embedding?
    let embeddingNorm: LayerNorm
    let blocks: [TransformerBlock]
    let pooling: SequencePooling
    /// `pooler.dense` and its tanh, for `.pooler` pooling.
    let pooler: (dense: Linear, activation: ActivationLayer)?
    let head: Linear?
    let classes: Int
    private var shape = (batch: 0, length: 0)
    private var mask: [Float] = []

    /// - Parameter classes: the label count; nil builds the encoder only (`encode`).
    init(store: ParameterStore, prefix: String, settings: TransformerSettings, classes: Int?) throws {
        let (heads, epsilon, activation) = try settings.resolved(store.graph.architecture)
        word = Embedding(table: try store.parameter(prefix + "embeddings.word_embeddings.weight"))
        position = Embedding(table: try store.parameter(prefix + "embeddings.position_embeddings.weight"))
        tokenType =
            store.has(prefix + "embeddings.token_type_embeddings.weight")
            ? Embedding(table: try store.parameter(prefix + "embeddings.token_type_embeddings.weight")) : nil
        embeddingNorm = try store.layerNorm(prefix + "embeddings.LayerNorm", epsilon: epsilon)
        var blocks: [TransformerBlock] = []
        while store.has(prefix + "encoder.layer.\(blocks.count).attention.self.query.weight") {
            blocks.append(
                try TransformerBlock(
                    store: store, prefix: prefix + "encoder.layer.\(blocks.count)", heads: heads, epsilon: epsilon,
                    activation: activation, vit: false))
        }
        self.blocks = blocks
        pooling = SequencePooling(kind: settings.pooling ?? .mean)
        if settings.pooling == .pooler {
            guard store.has(prefix + "pooler.dense.weight") else {
                throw AmalgamError(
                    .mismatch, "--pooling pooler needs the model's \(prefix)pooler.dense.weight, which it lacks")
            }
            pooler = (try store.linear(prefix + "pooler.dense"), ActivationLayer(.tanh))
        } else {
            pooler = nil
        }
        let width = word.table.value.columns
        head = try classes.map { try makeHead(store: store, name: "classifier", inputs: width, classes: $0) }
        self.classes = classes ?? 0
    }

    var parameters: [Parameter] {
        word.parameters + position.parameters + (tokenType?.parameters ?? []) + embeddingNorm.parameters
            + blocks.flatMap(\.parameters) + (pooler?.dense.parameters ?? []) + (head?.parameters ?? [])
    }

    var linears: [Linear] { blocks.flatMap(\.linears) + (pooler.map { [$0.dense] } ?? []) + (head.map { [$0] } ?? []) }

    /// The last hidden state, `[batch·length, width]`.
    func encode(_ inputs: Inputs) throws -> Matrix {
        guard case .tokens(let ids, let typeIds, let mask, let batch, let length) = inputs else {
            throw AmalgamError(
                .mismatch, "a BERT encoder takes token ids (input_ids, attention_mask), not feature vectors")
        }
        guard length <= position.table.value.rows else {
            throw AmalgamError(
                .mismatch, "sequences of \(length) tokens exceed the model's \(position.table.value.rows) positions")
        }
        shape = (batch, length)
        self.mask = mask
        var h = word.forward(ids)
        h.add(position.forward((0..<(batch * length)).map { $0 % length }))
        if let tokenType { h.add(tokenType.forward(typeIds ?? [Int](repeating: 0, count: ids.count))) }
        h = try embeddingNorm.forward(h)
        for block in blocks { h = try block.forward(h, batch: batch, length: length, mask: mask) }
        return h
    }

    func forward(_ inputs: Inputs) throws -> Matrix {
        guard let head else { preconditionFailure("no head") }
        let hidden = try encode(inputs)
        var pooled = pooling.forward(hidden, batch: shape.batch, length: shape.length, mask: mask)
        if let pooler { pooled = try pooler.activation.forward(try pooler.dense.forward(pooled)) }
        return try head.forward(pooled)
    }

    func backward(_ logitsGradient: Matrix) throws {
        guard let head else { preconditionFailure("no head") }
        var pooledGradient = try head.backward(logitsGradient)
        if let pooler { pooledGradient = try pooler.dense.backward(try pooler.activation.backward(pooledGradient)) }
        let hiddenGradient = pooling.backward(pooledGradient, batch: shape.batch, length: shape.length, mask: mask)
        let embeddings =
            word.parameters + position.parameters + (tokenType?.parameters ?? []) + embeddingNorm.parameters
        guard
            let embeddedGradient = try TransformerBlock.backward(
                through: blocks, hiddenGradient, inputsTrain: embeddings.contains(where: \.trainable))
        else { return }
        let g = try embeddingNorm.backward(embeddedGradient)
        word.backward(g)
        position.backward(g)
        tokenType?.backward(g)
    }
}
