import AmalgamCore
import LinearAlgebra

/// The architectures the engine builds from a model's tensors.
public enum Architecture: String, Sendable, CaseIterable {
    case mlp, bert, vit
}

/// What to build and how to train it.
public struct TuningSetup: Sendable {
    public var mode: TrainingMode
    /// Overrides detection (`--arch`).
    public var architecture: Architecture?
    /// MLP activation (weights cannot tell); default: the model's `amalgam.activation`
    /// metadata, else ReLU.
    public var activation: Activation?
    public var transformer = TransformerSettings()
    public var singularValueCount: SingularValueCount = .fraction(0.1)
    public var singularValueStart: SingularValueStart = .zero
    public var training = TrainingOptions()

    /// The defaults of `mode`: the paper's learning rate 0.1 for singular values, 0.001 for
    /// training weights.
    public init(mode: TrainingMode) {
        self.mode = mode
        if mode != .singularValues { training.learningRate = 1e-3 }
    }
}

/// Trainable-parameter counts, reported in logs.
public struct TrainableCounts: Sendable {
    /// Every trainable scalar.
    public var total: Int
    /// Of which in the classification head (new or taken from the model).
    public var head: Int
    /// Of which singular values (Stage 2).
    public var singularValues: Int
}

/// A classifier built from a model graph, ready to train, evaluate and write back.
///
/// In Stage 2 (`.singularValues`) the graph is the merged model, `base` holds `W0` for the
/// merged matrices and `factors` their `U`, `S`, `V`: each matrix with factors trains only
/// its top-N singular values (capped at the factors' rank); everything else is frozen,
/// except a head created for a label count the model has no head for.
public final class TunableModel {
    public let architecture: Architecture
    public let graph: ModelGraph
    /// Warnings about choices made (capped singular-value counts, a new head).
    public private(set) var notes: [String] = []
    let network: any Network
    let store: ParameterStore
    let setup: TuningSetup
    private let activation: Activation?

    public init(
        graph: ModelGraph, base: ModelGraph? = nil, factors: ModelGraph? = nil, setup: TuningSetup, classes: Int
    ) throws {
        self.graph = graph
        self.setup = setup
        let store = ParameterStore(
            graph: graph, mode: setup.mode, base: base, factors: factors, count: setup.singularValueCount,
            start: setup.singularValueStart, seed: setup.training.seed)
        self.store = store
        if setup.mode == .singularValues, factors == nil || base == nil {
            throw AmalgamError(.usage, "singular-value tuning needs the base model and the merge's factors")
        }
        let architecture = try Self.detect(graph, explicit: setup.architecture)
        self.architecture = architecture
        switch architecture {
        case .mlp:
            guard let prefixes = MLPClassifier.layerPrefixes(in: graph) else {
                throw AmalgamError(
                    .unsupported,
                    "no chain of linear layers (PREFIX.0.weight, PREFIX.1.weight, ...) whose widths line up")
            }
            let activation =
                try setup.activation ?? graph.metadata["amalgam.activation"]?.stringValue.map { name in
                    guard let known = Activation(rawValue: name) else {
                        throw AmalgamError(
                            .invalidFormat, "unknown amalgam.activation '\(name)' in the model's metadata")
                    }
                    return known
                } ?? .relu
            self.activation = activation
            network = try MLPClassifier(store: store, prefixes: prefixes, activation: activation, classes: classes)
        case .bert:
            guard let prefix = BertClassifier.prefix(in: graph) else {
                throw AmalgamError(
                    .unsupported, "no BERT encoder (embeddings.word_embeddings.weight, encoder.layer.0...)")
            }
            activation = nil
            network = try BertClassifier(store: store, prefix: prefix, settings: setup.transformer, classes: classes)
        case .vit:
            guard let prefix = ViTClassifier.prefix(in: graph) else {
                throw AmalgamError(
                    .unsupported, "no ViT (embeddings.patch_embeddings.projection.weight, encoder.layer.0...)")
            }
            activation = nil
            network = try ViTClassifier(store: store, prefix: prefix, settings: setup.transformer, classes: classes)
        }
        if store.capped.count <= 3 {
            for (name, asked, rank) in store.capped {
                notes.append(
                    "\(name): \(asked) singular values asked, the factors have rank \(rank): training \(rank) (merge with a larger K to train more)"
                )
            }
        } else {
            let examples = store.capped.prefix(2).map { "\($0.0): \($0.1) asked, rank \($0.2)" }.joined(separator: "; ")
            notes.append(
                "\(store.capped.count) matrices ask for more singular values than their factors' rank and train their rank instead (\(examples); ...): merge with a larger K to train more"
            )
        }
        let created = network.parameters.filter(\.isNew).map(\.name)
        if !created.isEmpty {
            notes.append(
                "the model has no head for \(classes) classes: created \(created.joined(separator: ", ")) (trained)")
        }
        if setup.mode == .singularValues, !network.linears.contains(where: { $0.singular != nil }) {
            throw AmalgamError(.mismatch, "none of the model's linear layers has factors in the factors file")
        }
    }

    /// The label count of the head the model already has: `classifier.weight`'s rows, or an
    /// MLP's last layer's; nil when it has none.
    public static func headClassCount(in graph: ModelGraph) -> Int? {
        if let head = graph["classifier.weight"], head.shape.dimensions.count == 2 { return head.shape.dimensions[0] }
        if BertClassifier.prefix(in: graph) == nil, ViTClassifier.prefix(in: graph) == nil,
            let last = MLPClassifier.layerPrefixes(in: graph)?.last, let weight = graph[last + ".weight"]
        {
            return weight.shape.dimensions[0]
        }
        return nil
    }

    /// `explicit`, the model's `amalgam.architecture`, then the tensor names.
    static func detect(_ graph: ModelGraph, explicit: Architecture?) throws -> Architecture {
        if let explicit { return explicit }
        if let name = graph.metadata["amalgam.architecture"]?.stringValue, let known = Architecture(rawValue: name) {
            return known
        }
        if BertClassifier.prefix(in: graph) != nil { return .bert }
        if ViTClassifier.prefix(in: graph) != nil { return .vit }
        if MLPClassifier.layerPrefixes(in: graph) != nil { return .mlp }
        throw AmalgamError(
            .unsupported,
            "cannot tell the architecture from the tensor names (MLP, BERT and ViT are supported; --arch chooses)")
    }

    public var classes: Int { network.classes }

    /// False when the head was created here (the model had none for the label count).
    public var hasOwnHead: Bool { !network.parameters.contains(where: \.isNew) }

    /// Checks that `data` (read from `path`) fits the model: the input layout, label range,
    /// token ids against the vocabulary, sequence length against the positions.
    public func check(_ data: Dataset, path: String) throws {
        func fail(_ message: String) -> AmalgamError { AmalgamError(.mismatch, message, file: path) }
        try data.checkLabels(classes: classes, path: path)
        switch network {
        case let mlp as MLPClassifier:
            let width: Int
            switch data.layout {
            case .features(let w): width = w
            case .images(let c, let h, let w): width = c * h * w
            case .tokens: throw fail("holds token ids; an MLP classifier takes feature vectors (x)")
            }
            guard width == mlp.inputWidth else {
                throw fail("has \(width) features per example; the model's first layer takes \(mlp.inputWidth)")
            }
        case let bert as BertClassifier:
            guard case .tokens(let length) = data.layout else {
                throw fail("holds feature vectors; a BERT encoder takes input_ids and attention_mask")
            }
            let vocabulary = bert.word.table.value.rows
            if let largest = data.largestTokenID, largest >= vocabulary {
                throw fail("token id \(largest) is outside the vocabulary of \(vocabulary)")
            }
            if let largest = data.largestTypeID, largest >= (bert.tokenType?.table.value.rows ?? 1) {
                throw fail(
                    "token type id \(largest) is outside the model's \(bert.tokenType?.table.value.rows ?? 0) types")
            }
            guard length <= bert.position.table.value.rows else {
                throw fail(
                    "sequences of \(length) tokens exceed the model's \(bert.position.table.value.rows) positions")
            }
        case is ViTClassifier:
            guard case .images = data.layout else {
                throw fail("holds no images; a ViT takes x of shape [n, channels, height, width]")
            }
        default:
            break
        }
    }

    public var trainableCounts: TrainableCounts {
        let trainable = network.parameters.filter(\.trainable)
        return TrainableCounts(
            total: trainable.reduce(0) { $0 + $1.count },
            head: trainable.filter { store.headNames.contains($0.name) }.reduce(0) { $0 + $1.count },
            singularValues: network.linears.compactMap(\.singular?.s).filter(\.trainable).reduce(0) { $0 + $1.count })
    }

    /// Trains for `setup.training.epochs` epochs (zero epochs: nothing changes).
    public func train(on data: Dataset, eval: Dataset?, progress: any ProgressReporter = SilentProgress()) throws
        -> [EpochRecord]
    {
        try Trainer(network: network, options: setup.training).train(data, eval: eval, progress: progress)
    }

    public func evaluate(on data: Dataset, batchSize: Int = 128) throws -> Evaluation {
        try Trainer.evaluate(network, on: data, batchSize: batchSize)
    }

    /// The logits of `data`'s examples, `[n, classes]` row-major.
    public func logits(for data: Dataset, batchSize: Int = 128) throws -> [Float] {
        var result: [Float] = []
        try data.inOrder(batchSize: batchSize) { inputs, _ in result += try network.forward(inputs).elements }
        return result
    }

    /// BERT only: the last hidden state of every token, `[n, length, width]` row-major.
    public func hiddenStates(for data: Dataset, batchSize: Int = 32) throws -> [Float] {
        guard let bert = network as? BertClassifier else {
            throw AmalgamError(.unsupported, "hidden states are available for BERT encoders")
        }
        var result: [Float] = []
        try data.inOrder(batchSize: batchSize) { inputs, _ in result += try bert.encode(inputs).elements }
        return result
    }

    /// The model with every trained tensor replaced by its new value as f32 (a Stage 2
    /// matrix as the dense `W0 + U diag(s) Vᵀ`), new head tensors appended, untouched tensors
    /// passed through as they were, and the architecture recorded in the metadata.
    public func trainedGraph() throws -> ModelGraph {
        var replaced: [String: Tensor] = [:]
        func tensor(_ parameter: Parameter, values: [Float]) -> Tensor {
            Tensor(name: parameter.name, shape: Shape(parameter.shape), floats: values)
        }
        for linear in network.linears where linear.singular != nil {
            replaced[linear.weight.name] = tensor(linear.weight, values: try linear.effectiveWeight().elements)
        }
        var appended: [Tensor] = []
        let singularValues = Set(network.linears.compactMap { $0.singular?.s.name })
        for parameter in network.parameters
        where (parameter.trainable || parameter.isNew) && replaced[parameter.name] == nil {
            guard !singularValues.contains(parameter.name) else { continue }  // folded into the dense weight
            let result = tensor(parameter, values: parameter.value.elements)
            if graph[parameter.name] == nil { appended.append(result) } else { replaced[parameter.name] = result }
        }
        var output = try graph.mapTensors { original in
            guard var new = replaced[original.name] else { return original }
            new.originalName = original.originalName
            return new
        }
        for tensor in appended { try output.append(tensor) }
        output.metadata["amalgam.architecture"] = .string(architecture.rawValue)
        if let activation { output.metadata["amalgam.activation"] = .string(activation.rawValue) }
        return output
    }
}
