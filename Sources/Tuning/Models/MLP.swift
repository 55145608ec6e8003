import AmalgamCore
import LinearAlgebra

/// A stack of linear layers with an activation between them (`layers.0.weight`,
/// `layers.2.weight`, ...: any `PREFIX.N.weight` chain whose widths line up). The last
/// layer gives the logits and is the head.
final class MLPClassifier: NetworkArchitecture {
    static let name = "mlp"

    static func recognizes(_ graph: ModelGraph) -> Bool { layerPrefixes(in: graph) != nil }

    static func headClassCount(in graph: ModelGraph) -> Int? {
        guard let last = layerPrefixes(in: graph)?.last, let weight = graph[last + ".weight"] else { return nil }
        return weight.shape.dimensions[0]
    }

    static func build(store: ParameterStore, setup: TuningSetup, classes: Int) throws -> MLPClassifier {
        try setup.refuse(["heads", "pooling"], architecture: name)
        let graph = store.graph
        guard let prefixes = layerPrefixes(in: graph) else {
            throw AmalgamError(
                .unsupported, "no chain of linear layers (PREFIX.0.weight, PREFIX.1.weight, ...) whose widths line up")
        }
        let activation =
            try setup.activation
            ?? graph.metadata["amalgam.activation"]?.stringValue.map { name in
                guard let known = Activation(rawValue: name) else {
                    throw AmalgamError(.invalidFormat, "unknown amalgam.activation '\(name)' in the model's metadata")
                }
                return known
            } ?? .relu
        return try MLPClassifier(store: store, prefixes: prefixes, activation: activation, classes: classes)
    }

    /// The linear layers' name prefixes in order, found in `graph`, or nil when the graph is
    /// not such a stack.
    static func layerPrefixes(in graph: ModelGraph) -> [String]? {
        var byPrefix: [String: [(index: Int, name: String)]] = [:]
        for tensor in graph.tensors where tensor.name.hasSuffix(".weight") && tensor.shape.dimensions.count == 2 {
            let stem = tensor.name.dropLast(".weight".count)
            guard let dot = stem.lastIndex(of: "."), let index = Int(stem[stem.index(after: dot)...]) else { continue }
            byPrefix[String(stem[..<dot]), default: []].append((index, String(stem)))
        }
        guard byPrefix.count == 1, let layers = byPrefix.values.first?.sorted(by: { $0.index < $1.index }),
            !layers.isEmpty
        else { return nil }
        let shapes = layers.map { graph[$0.name + ".weight"]!.shape.dimensions }
        for (previous, next) in zip(shapes, shapes.dropFirst()) where previous[0] != next[1] { return nil }
        return layers.map(\.name)
    }

    let layers: [Linear]
    let activations: [ActivationLayer]
    let activation: Activation
    let classes: Int

    init(store: ParameterStore, prefixes: [String], activation: Activation, classes: Int?) throws {
        var layers: [Linear] = []
        for (position, prefix) in prefixes.enumerated() {
            let isHead = position == prefixes.count - 1
            var layer = try store.linear(prefix, head: isHead)
            if isHead, let classes, classes != layer.outputs {
                // A head for another label count: a fresh one, trained.
                let inputs = layer.inputs
                let bound = 1 / Float(inputs).squareRoot()
                layer = Linear(
                    weight: store.newParameter(prefix + ".weight", shape: [classes, inputs], bound: bound),
                    bias: layer.bias.map { _ in store.newParameter(prefix + ".bias", shape: [classes], bound: bound) })
            }
            layers.append(layer)
        }
        layers[0].needsInputGradient = false
        self.layers = layers
        self.activation = activation
        self.activations = (0..<(layers.count - 1)).map { _ in ActivationLayer(activation) }
        self.classes = layers.last!.outputs
    }

    var inputWidth: Int { layers[0].inputs }

    var recordedMetadata: [(key: String, value: MetadataValue)] {
        [("amalgam.activation", .string(activation.rawValue))]
    }

    func check(_ data: Dataset, path: String) throws {
        let width: Int
        switch data.layout {
        case .features(let w): width = w
        case .images(let c, let h, let w): width = c * h * w
        case .tokens:
            throw AmalgamError(.mismatch, "holds token ids; an MLP classifier takes feature vectors (x)", file: path)
        }
        guard width == inputWidth else {
            throw AmalgamError(
                .mismatch, "has \(width) features per example; the model's first layer takes \(inputWidth)", file: path)
        }
    }

    var parameters: [Parameter] { layers.flatMap(\.parameters) }
    var linears: [Linear] { layers }

    func forward(_ inputs: Inputs) throws -> Matrix {
        let x: Matrix
        switch inputs {
        case .features(let features): x = features
        case .images(let images, _, _, _): x = images
        case .tokens: throw AmalgamError(.mismatch, "an MLP classifier takes feature vectors (x), not token ids")
        }
        var h = try layers[0].forward(x)
        for (activation, layer) in zip(activations, layers.dropFirst()) {
            h = try layer.forward(try activation.forward(h))
        }
        return h
    }

    func backward(_ logitsGradient: Matrix) throws {
        var g = try layers[layers.count - 1].backward(logitsGradient)
        for index in stride(from: layers.count - 2, through: 0, by: -1) {
            g = try layers[index].backward(try activations[index].backward(g))
        }
    }
}
