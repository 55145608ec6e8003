import AmalgamCore
import LinearAlgebra

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
        let pooledGradient = SequencePooling(kind: .cls).backward(
            try head.backward(logitsGradient), batch: batch, length: length, mask: mask)
        guard
            let g = try TransformerBlock.backward(
                through: blocks, try finalNorm.backward(pooledGradient),
                inputsTrain: (patch.parameters + [cls, positions]).contains(where: \.trainable))
        else { return }
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
