import AmalgamCore
import LinearAlgebra

/// A stack of linear layers with an activation between them (`layers.0.weight`,
/// `layers.2.weight`, ...: any `PREFIX.N.weight` chain whose widths line up) and a head. The
/// head is `classifier` when the model has one after the chain; otherwise the chain's last
/// layer when it narrows (fewer rows than columns: a layer down to labels) and its rows are
/// the label count. A head for another label count is a new `classifier` after the whole
/// chain (an activation between): the chain's layers stay (in Stage 2 they are the merged
/// body) and only the head is new.
final class MLPClassifier: NetworkArchitecture {
    static let name = "mlp"

    static func recognizes(_ graph: ModelGraph) -> Bool { layerPrefixes(in: graph) != nil }

    /// The rows of `classifier` after the chain, else of the chain's last layer when it
    /// narrows; nil for a body without a head (a merge of tasks with different heads).
    static func headClassCount(in graph: ModelGraph) -> Int? {
        guard let prefixes = layerPrefixes(in: graph), let last = graph[prefixes.last! + ".weight"] else { return nil }
        if let head = graph[headName + ".weight"], head.shape.rank == 2,
            head.shape.dimensions[1] == last.shape.dimensions[0]
        {
            return head.shape.dimensions[0]
        }
        return isHeadShaped(last.shape.dimensions) ? last.shape.dimensions[0] : nil
    }

    /// A last layer that maps down to fewer outputs than it takes, as a head does.
    static func isHeadShaped(_ dimensions: [Int]) -> Bool { dimensions[0] < dimensions[1] }

    /// The head after the chain.
    static let headName = "classifier"

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

    /// The body's layers, then the head.
    let layers: [Linear]
    let activations: [ActivationLayer]
    let activation: Activation
    let classes: Int

    init(store: ParameterStore, prefixes: [String], activation: Activation, classes: Int) throws {
        var body = prefixes
        let lastWidth = store.graph[prefixes.last! + ".weight"]!.shape.dimensions[0]
        let head: Linear
        if let existing = store.graph[Self.headName + ".weight"], existing.shape.rank == 2,
            existing.shape.dimensions[1] == lastWidth
        {
            head = try makeHead(store: store, name: Self.headName, inputs: lastWidth, classes: classes)
        } else if lastWidth == classes, Self.isHeadShaped(store.graph[prefixes.last! + ".weight"]!.shape.dimensions) {
            // No head after the chain, and its last layer fits the labels: that layer is the head.
            head = try store.linear(body.removeLast(), head: true)
        } else {
            head = try makeHead(store: store, name: Self.headName, inputs: lastWidth, classes: classes)
        }
        var layers = try body.map { try store.linear($0) }
        layers.append(head)
        layers[0].needsInputGradient = false
        self.layers = layers
        self.activation = activation
        self.activations = (0..<(layers.count - 1)).map { _ in ActivationLayer(activation) }
        self.classes = head.outputs
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
