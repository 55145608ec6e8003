import AmalgamCore
import LinearAlgebra
import Testing

@testable import Tuning

/// Central finite differences of the batch loss against the analytic gradient of every
/// trainable parameter (up to `samples` entries each).
func checkGradients(_ network: any Network, inputs: Inputs, labels: [Int], samples: Int = 12, epsilon: Float = 1e-2)
    throws -> (checked: Int, worst: Double)
{
    func loss() throws -> Double { CrossEntropy.evaluate(logits: try network.forward(inputs), labels: labels).loss }
    for parameter in network.parameters { parameter.zeroGradient() }
    let result = CrossEntropy.evaluate(logits: try network.forward(inputs), labels: labels)
    try network.backward(result.gradient)
    var checked = 0
    var worst = 0.0
    for parameter in network.parameters where parameter.trainable {
        let analytic = parameter.gradient.elements
        let stride = max(1, parameter.count / samples)
        for index in Swift.stride(from: 0, to: parameter.count, by: stride) {
            let original = parameter.value.elements[index]
            parameter.value.elements[index] = original + epsilon
            let up = try loss()
            parameter.value.elements[index] = original - epsilon
            let down = try loss()
            parameter.value.elements[index] = original
            let numeric = (up - down) / (2 * Double(epsilon))
            let error = abs(numeric - Double(analytic[index])) / (2e-3 + 2e-2 * abs(numeric))
            worst = max(worst, error)
            #expect(error <= 1, "\(parameter.name)[\(index)]: analytic \(analytic[index]), numeric \(numeric)")
            checked += 1
        }
    }
    return (checked, worst)
}

@Suite struct GradientTests {
    static func features(_ rows: Int, _ width: Int, seed: UInt64) -> Inputs {
        var generator = SeededRandom(seed: seed)
        return .features(
            Matrix(rows: rows, columns: width, elements: Models.random([rows, width], &generator, scale: 1.5)))
    }

    @Test("MLP: every weight and bias, for each activation", arguments: Activation.allCases)
    func mlp(activation: Activation) throws {
        let graph = try Models.mlp(widths: [6, 9, 7, 4], seed: 1)
        let store = ParameterStore(graph: graph, mode: .full)
        let network = try MLPClassifier(
            store: store, prefixes: MLPClassifier.layerPrefixes(in: graph)!, activation: activation, classes: 4)
        // ReLU's kink: a smaller step keeps the differences on one side of it.
        let (checked, worst) = try checkGradients(
            network, inputs: Self.features(5, 6, seed: 2), labels: [0, 3, 1, 2, 3],
            epsilon: activation == .relu ? 1e-3 : 1e-2)
        #expect(checked > 50)
        print("gradient check MLP \(activation): \(checked) entries, worst error/tolerance \(worst)")
    }

    @Test("singular-value parameterisation: ds and the layers around it")
    func singularValues() throws {
        let graph = try Models.mlp(widths: [6, 9, 4], seed: 3)
        var generator = SeededRandom(seed: 4)
        let rank = 3
        let factors = try FactorSet(
            graph: try ModelGraph(tensors: [
                Tensor(name: "layers.0.weight.U", shape: [9, rank], floats: Models.random([9, rank], &generator)),
                Tensor(name: "layers.0.weight.S", shape: [rank], floats: [1.5, 1.0, 0.5]),
                Tensor(name: "layers.0.weight.V", shape: [6, rank], floats: Models.random([6, rank], &generator)),
            ]))
        for start in [SingularValueStart.zero, .merged] {
            let store = ParameterStore(
                graph: graph, mode: .singularValues, base: graph, factors: factors, count: .count(2), start: start)
            let network = try MLPClassifier(
                store: store, prefixes: ["layers.0", "layers.2"], activation: .gelu, classes: 4)
            let trainable = network.parameters.filter(\.trainable)
            #expect(trainable.map(\.name) == ["layers.0.weight.S"] && trainable[0].count == 2)
            // Randomise s so the check is not at a special point.
            trainable[0].value.elements = [0.7, -0.4]
            let (checked, _) = try checkGradients(
                network, inputs: Self.features(5, 6, seed: 5), labels: [0, 1, 2, 3, 0], samples: 2)
            #expect(checked == 2)
        }
    }

    @Test(
        "BERT: embeddings, attention with padding, layer norms, GELU, pooling",
        arguments: [Pooling.mean, .cls, .pooler])
    func bert(pooling: Pooling) throws {
        var graph = try Models.bert(seed: 6)
        var generator = SeededRandom(seed: 60)
        try graph.append(
            Tensor(name: "pooler.dense.weight", shape: [8, 8], floats: Models.random([8, 8], &generator)))
        try graph.append(Tensor(name: "pooler.dense.bias", shape: [8], floats: Models.random([8], &generator)))
        let store = ParameterStore(graph: graph, mode: .full)
        let network = try BertClassifier(
            store: store, prefix: "", settings: TransformerSettings(heads: 2, pooling: pooling), classes: 3)
        let ids = [1, 5, 7, 2, 0, 3, 3, 9, 0, 0, 4, 10, 6, 8, 2]
        let mask: [Float] = [1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]
        let types = [0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1]
        let inputs = Inputs.tokens(ids: ids, typeIds: types, mask: mask, batch: 3, length: 5)
        let (checked, worst) = try checkGradients(network, inputs: inputs, labels: [2, 0, 1], samples: 6)
        #expect(checked > (pooling == .pooler ? 160 : 150))
        print("gradient check BERT \(pooling): \(checked) entries, worst error/tolerance \(worst)")
        // Padding is invisible: changing a padded token changes nothing.
        let before = try network.forward(inputs).elements
        var changed = ids
        changed[4] = 9
        let after = try network.forward(.tokens(ids: changed, typeIds: types, mask: mask, batch: 3, length: 5)).elements
        #expect(before == after)
    }

    /// Frozen embeddings and a frozen first block: the backward pass stops early (block 0's
    /// projections skip their input gradients, or block 0 is skipped whole), and every
    /// gradient that remains still matches finite differences.
    @Test("BERT and ViT with the layers below a point frozen", arguments: [0, 1, 2])
    func frozenBelow(trainableFromBlock: Int) throws {
        func freeze(_ parameters: [Parameter], keeping block: Int) {
            for parameter in parameters where !parameter.name.contains("encoder.layer.") {
                parameter.trainable = parameter.name.hasPrefix("classifier")
            }
            for parameter in parameters where parameter.name.contains("encoder.layer.") {
                let index = Int(parameter.name.split(separator: ".")[2])!
                // Block `block` trains only its attention projections and the layers above.
                parameter.trainable = index > block || (index == block && parameter.name.contains(".query."))
            }
        }
        let bert = try BertClassifier(
            store: ParameterStore(graph: try Models.bert(seed: 6), mode: .full), prefix: "",
            settings: TransformerSettings(heads: 2), classes: 3)
        freeze(bert.parameters, keeping: trainableFromBlock)
        let ids = [1, 5, 7, 2, 0, 3, 3, 9, 0, 0]
        let mask: [Float] = [1, 1, 1, 1, 0, 1, 1, 1, 0, 0]
        let tokens = Inputs.tokens(ids: ids, typeIds: nil, mask: mask, batch: 2, length: 5)
        let (bertChecked, _) = try checkGradients(bert, inputs: tokens, labels: [2, 0], samples: 6)
        #expect(bertChecked > (trainableFromBlock == 2 ? 8 : 20))
        if trainableFromBlock < 2 {
            #expect(!bert.blocks[trainableFromBlock].attention.query.needsInputGradient)
        }

        let vit = try ViTClassifier(
            store: ParameterStore(graph: try Models.vit(layers: 2, seed: 7), mode: .full), prefix: "",
            settings: TransformerSettings(heads: 2), classes: 3)
        freeze(vit.parameters, keeping: trainableFromBlock)
        let images = Self.images
        let (vitChecked, _) = try checkGradients(vit, inputs: images, labels: [1, 2], samples: 6)
        #expect(vitChecked > 8)
    }

    /// Two 2-channel 4x4 images.
    static var images: Inputs {
        var generator = SeededRandom(seed: 8)
        return Inputs.images(
            Matrix(rows: 2, columns: 32, elements: Models.random([2, 32], &generator, scale: 1)), channels: 2,
            height: 4, width: 4)
    }

    @Test("ViT: patch embedding, CLS token, positions, pre-LN blocks")
    func vit() throws {
        let graph = try Models.vit(seed: 7)
        let store = ParameterStore(graph: graph, mode: .full)
        let network = try ViTClassifier(store: store, prefix: "", settings: TransformerSettings(heads: 2), classes: 3)
        let images = Self.images
        let (checked, worst) = try checkGradients(network, inputs: images, labels: [1, 2], samples: 6)
        #expect(checked > 80)
        print("gradient check ViT: \(checked) entries, worst error/tolerance \(worst)")
    }
}
