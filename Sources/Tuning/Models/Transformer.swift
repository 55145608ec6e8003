import AmalgamCore
import LinearAlgebra

/// One transformer block in Hugging Face's BERT (post-LN) or ViT (pre-LN) arrangement.
final class TransformerBlock {
    let attention: SelfAttention
    let attentionOutput: Linear
    let attentionNorm: LayerNorm
    let intermediate: Linear
    let activation: ActivationLayer
    let output: Linear
    let outputNorm: LayerNorm
    /// ViT: `x + f(LN(x))`; BERT: `LN(x + f(x))`.
    let preNorm: Bool

    init(store: ParameterStore, prefix: String, heads: Int, epsilon: Float, activation: Activation, vit: Bool) throws {
        let attentionPrefix = prefix + (vit ? ".attention.attention" : ".attention.self")
        attention = SelfAttention(
            query: try store.linear(attentionPrefix + ".query"), key: try store.linear(attentionPrefix + ".key"),
            value: try store.linear(attentionPrefix + ".value"), heads: heads)
        attentionOutput = try store.linear(prefix + ".attention.output.dense")
        intermediate = try store.linear(prefix + ".intermediate.dense")
        output = try store.linear(prefix + ".output.dense")
        if vit {
            attentionNorm = try store.layerNorm(prefix + ".layernorm_before", epsilon: epsilon)
            outputNorm = try store.layerNorm(prefix + ".layernorm_after", epsilon: epsilon)
        } else {
            attentionNorm = try store.layerNorm(prefix + ".attention.output.LayerNorm", epsilon: epsilon)
            outputNorm = try store.layerNorm(prefix + ".output.LayerNorm", epsilon: epsilon)
        }
        self.activation = ActivationLayer(activation)
        preNorm = vit
    }

    var parameters: [Parameter] {
        attention.parameters + attentionOutput.parameters + attentionNorm.parameters + intermediate.parameters
            + output.parameters + outputNorm.parameters
    }

    var linears: [Linear] { [attention.query, attention.key, attention.value, attentionOutput, intermediate, output] }

    func forward(_ x: Matrix, batch: Int, length: Int, mask: [Float]) throws -> Matrix {
        if preNorm {
            var h = x
            h.add(
                try attentionOutput.forward(
                    try attention.forward(try attentionNorm.forward(x), batch: batch, length: length, keyMask: mask)))
            var out = h
            out.add(try output.forward(try activation.forward(try intermediate.forward(try outputNorm.forward(h)))))
            return out
        }
        var a = try attentionOutput.forward(try attention.forward(x, batch: batch, length: length, keyMask: mask))
        a.add(x)
        let h = try attentionNorm.forward(a)
        var o = try output.forward(try activation.forward(try intermediate.forward(h)))
        o.add(h)
        return try outputNorm.forward(o)
    }

    func backward(_ gradient: Matrix) throws -> Matrix {
        if preNorm {
            var dh = gradient
            dh.add(
                try outputNorm.backward(
                    try intermediate.backward(try activation.backward(try output.backward(gradient)))))
            var dx = dh
            dx.add(try attentionNorm.backward(try attention.backward(try attentionOutput.backward(dh))))
            return dx
        }
        let g = try outputNorm.backward(gradient)
        var dh = g
        dh.add(try intermediate.backward(try activation.backward(try output.backward(g))))
        let g1 = try attentionNorm.backward(dh)
        var dx = g1
        dx.add(try attention.backward(try attentionOutput.backward(g1)))
        return dx
    }
}

/// The hyper-parameters a transformer needs beyond its weights.
public struct TransformerSettings: Sendable {
    public var heads: Int?
    public var epsilon: Float?
    public var activation: Activation?
    public var pooling: Pooling?

    public init(heads: Int? = nil, epsilon: Float? = nil, activation: Activation? = nil, pooling: Pooling? = nil) {
        self.heads = heads
        self.epsilon = epsilon
        self.activation = activation
        self.pooling = pooling
    }

    /// Explicit settings, then config.json's (`num_attention_heads`, `layer_norm_eps`,
    /// `hidden_act`), then defaults (eps 1e-12, GELU).
    func resolved(_ hints: ArchitectureHints) throws -> (heads: Int, epsilon: Float, activation: Activation) {
        guard let heads = heads ?? hints.parameters["num_attention_heads"]?.intValue, heads > 0 else {
            throw AmalgamError(
                .usage,
                "the attention head count is unknown: pass --heads N (or keep the model's config.json beside it)")
        }
        var epsilon = self.epsilon ?? 1e-12
        if self.epsilon == nil, let value = hints.parameters["layer_norm_eps"] {
            if case .f64(let e) = value { epsilon = Float(e) } else if let e = value.intValue { epsilon = Float(e) }
        }
        var activation = self.activation ?? .gelu
        if self.activation == nil, let name = hints.parameters["hidden_act"]?.stringValue {
            guard let known = Activation(huggingFace: name) else {
                throw AmalgamError(
                    .unsupported, "hidden_act '\(name)' is not supported (gelu, gelu_new, relu, tanh are)")
            }
            activation = known
        }
        return (heads, epsilon, activation)
    }
}

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
        var g = pooling.backward(pooledGradient, batch: shape.batch, length: shape.length, mask: mask)
        for block in blocks.reversed() { g = try block.backward(g) }
        g = try embeddingNorm.backward(g)
        word.backward(g)
        position.backward(g)
        tokenType?.backward(g)
    }
}

/// A ViT (Hugging Face `ViTModel` names): patch embedding as a linear map over flattened
/// patches, a CLS token, position embeddings, pre-LN blocks, a final LayerNorm, the CLS
/// vector into the head `classifier`.
final class ViTClassifier: NetworkArchitecture {
    static let name = "vit"

    static func recognizes(_ graph: ModelGraph) -> Bool { prefix(in: graph) != nil }

    static func headClassCount(in graph: ModelGraph) -> Int? { classifierRows(graph) }

    static func build(store: ParameterStore, setup: TuningSetup, classes: Int) throws -> ViTClassifier {
        try setup.refuse(["activation", "pooling"], architecture: name)
        guard let prefix = prefix(in: store.graph) else {
            throw AmalgamError(
                .unsupported, "no ViT (embeddings.patch_embeddings.projection.weight, encoder.layer.0...)")
        }
        return try ViTClassifier(store: store, prefix: prefix, settings: setup.transformer, classes: classes)
    }

    func check(_ data: Dataset, path: String) throws {
        guard case .images = data.layout else {
            throw AmalgamError(
                .mismatch, "holds no images; a ViT takes x of shape [n, channels, height, width]", file: path)
        }
    }

    static func prefix(in graph: ModelGraph) -> String? {
        for tensor in graph.tensors
        where tensor.name.hasSuffix("embeddings.patch_embeddings.projection.weight")
            && tensor.shape.dimensions.count == 4
        {
            return String(tensor.name.dropLast("embeddings.patch_embeddings.projection.weight".count))
        }
        return nil
    }

    let patch: Linear
    let patchSize: Int, channels: Int
    let cls: Parameter, positions: Parameter
    let blocks: [TransformerBlock]
    let finalNorm: LayerNorm
    let head: Linear
    let classes: Int
    private var shape = (batch: 0, length: 0)

    init(store: ParameterStore, prefix: String, settings: TransformerSettings, classes: Int) throws {
        let (heads, epsilon, activation) = try settings.resolved(store.graph.architecture)
        let projection = prefix + "embeddings.patch_embeddings.projection"
        let kernel = store.graph[projection + ".weight"]!.shape.dimensions
        guard kernel[2] == kernel[3] else {
            throw AmalgamError(
                .unsupported, "patches of \(kernel[2])x\(kernel[3]) are not square", tensor: projection + ".weight")
        }
        patch = try store.linear(projection)
        patch.needsInputGradient = false
        patchSize = kernel[2]
        channels = kernel[1]
        cls = try store.parameter(prefix + "embeddings.cls_token")
        positions = try store.parameter(prefix + "embeddings.position_embeddings")
        var blocks: [TransformerBlock] = []
        while store.has(prefix + "encoder.layer.\(blocks.count).attention.attention.query.weight") {
            blocks.append(
                try TransformerBlock(
                    store: store, prefix: prefix + "encoder.layer.\(blocks.count)", heads: heads, epsilon: epsilon,
                    activation: activation, vit: true))
        }
        self.blocks = blocks
        finalNorm = try store.layerNorm(prefix + "layernorm", epsilon: epsilon)
        head = try makeHead(store: store, name: "classifier", inputs: kernel[0], classes: classes)
        self.classes = classes
    }

    var parameters: [Parameter] {
        patch.parameters + [cls, positions] + blocks.flatMap(\.parameters) + finalNorm.parameters + head.parameters
    }

    var linears: [Linear] { [patch] + blocks.flatMap(\.linears) + [head] }

    func forward(_ inputs: Inputs) throws -> Matrix {
        guard case .images(let images, let channels, let height, let width) = inputs else {
            throw AmalgamError(.mismatch, "a ViT takes images (x of shape [n, channels, height, width])")
        }
        let p = patchSize
        guard channels == self.channels, height % p == 0, width % p == 0 else {
            throw AmalgamError(
                .mismatch,
                "images of \(channels)x\(height)x\(width) do not fit \(self.channels)-channel patches of \(p)x\(p)")
        }
        let (rowsOfPatches, columnsOfPatches) = (height / p, width / p)
        let patchCount = rowsOfPatches * columnsOfPatches
        let length = patchCount + 1
        guard positions.count == length * patch.outputs else {
            throw AmalgamError(
                .mismatch,
                "\(patchCount) patches need \(length) position embeddings, the model has \(positions.count / max(patch.outputs, 1))"
            )
        }
        let batch = images.rows
        shape = (batch, length)
        // Flattened patches in (channel, row, column) order, the conv kernel's layout.
        var patches = Matrix(zeros: batch * patchCount, channels * p * p)
        for b in 0..<batch {
            for pr in 0..<rowsOfPatches {
                for pc in 0..<columnsOfPatches {
                    let row = (b * patchCount + pr * columnsOfPatches + pc) * channels * p * p
                    var k = 0
                    for c in 0..<channels {
                        for y in 0..<p {
                            for x in 0..<p {
                                patches.elements[row + k] =
                                    images.elements[
                                        b * channels * height * width + (c * height + pr * p + y) * width + pc * p + x]
                                k += 1
                            }
                        }
                    }
                }
            }
        }
        let embedded = try patch.forward(patches)
        let dim = embedded.columns
        var h = Matrix(zeros: batch * length, dim)
        for b in 0..<batch {
            for t in 0..<length {
                for c in 0..<dim {
                    let token = t == 0 ? cls.value.elements[c] : embedded.elements[(b * patchCount + t - 1) * dim + c]
                    h.elements[(b * length + t) * dim + c] = token + positions.value.elements[t * dim + c]
                }
            }
        }
        let mask = [Float](repeating: 1, count: batch * length)
        for block in blocks { h = try block.forward(h, batch: batch, length: length, mask: mask) }
        h = try finalNorm.forward(h)
        return try head.forward(SequencePooling(kind: .cls).forward(h, batch: batch, length: length, mask: mask))
    }

    func backward(_ logitsGradient: Matrix) throws {
        let (batch, length) = shape
        let mask = [Float](repeating: 1, count: batch * length)
        var g = SequencePooling(kind: .cls).backward(
            try head.backward(logitsGradient), batch: batch, length: length, mask: mask)
        g = try finalNorm.backward(g)
        for block in blocks.reversed() { g = try block.backward(g) }
        let dim = g.columns
        let patchCount = length - 1
        var patchGradient = Matrix(zeros: batch * patchCount, dim)
        for b in 0..<batch {
            for t in 0..<length {
                for c in 0..<dim {
                    let value = g.elements[(b * length + t) * dim + c]
                    if positions.trainable { positions.gradient.elements[t * dim + c] += value }
                    if t == 0 {
                        if cls.trainable { cls.gradient.elements[c] += value }
                    } else {
                        patchGradient.elements[(b * patchCount + t - 1) * dim + c] = value
                    }
                }
            }
        }
        _ = try patch.backward(patchGradient)
    }
}

/// The rows of the model's `classifier.weight` (its label count), when it has one.
func classifierRows(_ graph: ModelGraph) -> Int? {
    guard let head = graph["classifier.weight"], head.shape.dimensions.count == 2 else { return nil }
    return head.shape.dimensions[0]
}

/// The model's head `name` when its output count matches `classes`, else a new one
/// (PyTorch's default initialisation, seeded), trained in every mode.
func makeHead(store: ParameterStore, name: String, inputs: Int, classes: Int) throws -> Linear {
    if let existing = store.graph[name + ".weight"], existing.shape.dimensions == [classes, inputs] {
        return try store.linear(name, head: true)
    }
    let bound = 1 / Float(inputs).squareRoot()
    return Linear(
        weight: store.newParameter(name + ".weight", shape: [classes, inputs], bound: bound),
        bias: store.newParameter(name + ".bias", shape: [classes], bound: bound))
}
