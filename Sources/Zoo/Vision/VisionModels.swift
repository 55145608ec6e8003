import AmalgamCore
import ONNXFormat

/// The vision zoo's two networks, initialised from a seed as PyTorch would: an MLP
/// 784-256-256-256 with ReLU (`layers.0`, `layers.2`, `layers.4`, head `classifier`) and a
/// small ViT (patch 7, width 64, 3 pre-LN blocks, 4 heads, MLP 128, a CLS token; Hugging
/// Face `ViTForImageClassification` names).
enum VisionModels {
    static let imageSize = 28
    static let hidden = [256, 256, 256]
    static let vitWidth = 64, vitBlocks = 3, vitHeads = 4, vitMLP = 128, vitPatch = 7

    /// `nn.Linear`'s default: weight and bias from U(-1/√in, 1/√in).
    private static func linear(_ name: String, inputs: Int, outputs: Int, _ random: inout SeededRandom) -> [Tensor] {
        let bound = 1 / Float(inputs).squareRoot()
        func uniform(_ count: Int) -> [Float] { (0..<count).map { _ in random.nextSignedUnitFloat() * bound } }
        return [
            Tensor(name: name + ".weight", shape: Shape([outputs, inputs]), floats: uniform(outputs * inputs)),
            Tensor(name: name + ".bias", shape: Shape([outputs]), floats: uniform(outputs)),
        ]
    }

    /// The MLP with a head for `classes` labels.
    static func mlp(classes: Int, seed: UInt64) throws -> ModelGraph {
        var random = SeededRandom(seed: seed)
        var tensors: [Tensor] = []
        var width = imageSize * imageSize
        for (index, size) in hidden.enumerated() {
            tensors += linear("layers.\(2 * index)", inputs: width, outputs: size, &random)
            width = size
        }
        tensors += linear("classifier", inputs: width, outputs: classes, &random)
        var metadata = Metadata()
        metadata["amalgam.architecture"] = .string("mlp")
        metadata["amalgam.activation"] = .string("relu")
        return try ModelGraph(tensors: tensors, metadata: metadata)
    }

    /// The ViT with a head for `classes` labels: weights from N(0, 0.02), biases 0,
    /// LayerNorms 1 and 0 (Hugging Face's `ViTPreTrainedModel` initialisation).
    static func vit(classes: Int, seed: UInt64) throws -> ModelGraph {
        var random = SeededRandom(seed: seed)
        func normal(_ name: String, _ shape: [Int]) -> Tensor {
            Tensor(
                name: name, shape: Shape(shape),
                floats: (0..<shape.reduce(1, *)).map { _ in Float(random.nextGaussian() * 0.02) })
        }
        func constant(_ name: String, _ shape: [Int], _ value: Float) -> Tensor {
            Tensor(name: name, shape: Shape(shape), floats: [Float](repeating: value, count: shape.reduce(1, *)))
        }
        func dense(_ name: String, inputs: Int, outputs: Int) -> [Tensor] {
            [normal(name + ".weight", [outputs, inputs]), constant(name + ".bias", [outputs], 0)]
        }
        func norm(_ name: String) -> [Tensor] {
            [constant(name + ".weight", [vitWidth], 1), constant(name + ".bias", [vitWidth], 0)]
        }
        let d = vitWidth
        let patches = (imageSize / vitPatch) * (imageSize / vitPatch)
        var tensors = [
            normal("vit.embeddings.cls_token", [1, 1, d]),
            normal("vit.embeddings.position_embeddings", [1, patches + 1, d]),
            normal("vit.embeddings.patch_embeddings.projection.weight", [d, 1, vitPatch, vitPatch]),
            constant("vit.embeddings.patch_embeddings.projection.bias", [d], 0),
        ]
        for block in 0..<vitBlocks {
            let prefix = "vit.encoder.layer.\(block)."
            tensors += norm(prefix + "layernorm_before")
            for part in ["query", "key", "value"] {
                tensors += dense(prefix + "attention.attention." + part, inputs: d, outputs: d)
            }
            tensors += dense(prefix + "attention.output.dense", inputs: d, outputs: d)
            tensors += norm(prefix + "layernorm_after")
            tensors += dense(prefix + "intermediate.dense", inputs: d, outputs: vitMLP)
            tensors += dense(prefix + "output.dense", inputs: vitMLP, outputs: d)
        }
        tensors += norm("vit.layernorm")
        tensors += dense("classifier", inputs: d, outputs: classes)
        var metadata = Metadata()
        metadata["amalgam.architecture"] = .string("vit")
        var hints = ArchitectureHints()
        hints.parameters["num_attention_heads"] = .i64(Int64(vitHeads))
        hints.parameters["layer_norm_eps"] = .f64(1e-12)
        hints.parameters["hidden_act"] = .string("gelu")
        return try ModelGraph(tensors: tensors, metadata: metadata, architecture: hints)
    }

    /// The MLP as ONNX nodes (Flatten, then Gemm with transB and Relu per layer) over its own
    /// tensors: images `x` `[batch, 1, 28, 28]` in, `logits` out, so onnxruntime runs it.
    static func mlpComputation(_ graph: ModelGraph) -> ONNXComputation {
        var prefixes = (0..<hidden.count).map { "layers.\(2 * $0)" }.filter { graph[$0 + ".weight"] != nil }
        if graph["classifier.weight"] != nil { prefixes.append("classifier") }
        var nodes = [ONNXComputation.Node("Flatten", inputs: ["x"], outputs: ["flat"], attributes: [("axis", .int(1))])]
        var current = "flat"
        for (index, prefix) in prefixes.enumerated() {
            let last = index == prefixes.count - 1
            let output = last ? "logits" : prefix + ".out"
            nodes.append(
                .init(
                    "Gemm", inputs: [current, prefix + ".weight", prefix + ".bias"], outputs: [output],
                    attributes: [("transB", .int(1))]))
            current = output
            if !last {
                nodes.append(.init("Relu", inputs: [output], outputs: [prefix + ".relu"]))
                current = prefix + ".relu"
            }
        }
        let classes = graph[prefixes.last! + ".weight"]?.shape.dimensions[0] ?? 0
        return ONNXComputation(
            nodes: nodes,
            inputs: [.init(name: "x", dimensions: [.named("batch"), .fixed(1), .fixed(imageSize), .fixed(imageSize)])],
            outputs: [.init(name: "logits", dimensions: [.named("batch"), .fixed(classes)])], opset: 13)
    }
}
