import AmalgamCore
import LinearAlgebra

/// A classifier built from a model graph, ready to train, evaluate and write back.
///
/// In Stage 2 (`.singularValues`) the graph is the merged model, `base` holds `W0` for the
/// merged matrices and `factors` their `U`, `S`, `V`: each matrix with factors trains only
/// its top-N singular values (capped at the factors' rank); everything else is frozen,
/// except a head created for a label count the model has no head for.
public final class TunableModel {
    /// The architecture's name (`mlp`, `bert`, `vit`).
    public let architecture: String
    public let graph: ModelGraph
    /// Warnings about choices made (capped singular-value counts, a new head).
    public private(set) var notes: [String] = []
    let network: any Network
    let store: ParameterStore
    let setup: TuningSetup

    public init(graph: ModelGraph, base: ModelGraph? = nil, factors: FactorSet? = nil, setup: TuningSetup, classes: Int)
        throws
    {
        self.graph = graph
        self.setup = setup
        let store = ParameterStore(
            graph: graph, mode: setup.mode, base: base, factors: factors, count: setup.singularValueCount,
            allocation: setup.singularValueAllocation, start: setup.singularValueStart, seed: setup.training.seed)
        self.store = store
        if setup.mode == .singularValues, factors == nil || base == nil {
            throw AmalgamError(.usage, "singular-value tuning needs the base model and the merge's factors")
        }
        let kind = try TuningArchitectures.detect(graph, explicit: setup.architecture)
        architecture = kind.name
        network = try kind.build(store: store, setup: setup, classes: classes)
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

    /// The label count of the head the model already has; nil when it has none.
    public static func headClassCount(in graph: ModelGraph) -> Int? { TuningArchitectures.headClassCount(in: graph) }

    public var classes: Int { network.classes }

    /// False when the head was created here (the model had none for the label count).
    public var hasOwnHead: Bool { !network.parameters.contains(where: \.isNew) }

    /// Checks that `data` (read from `path`) fits the model: the label range, then the input
    /// layout, token ids against the vocabulary, sequence length against the positions.
    public func check(_ data: Dataset, path: String) throws {
        try data.checkLabels(classes: classes, path: path)
        try network.check(data, path: path)
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

    /// Examples per forward pass when evaluating, unless a caller says otherwise.
    public static let evaluationBatch = 128

    public func evaluate(on data: Dataset, batchSize: Int = evaluationBatch) throws -> Evaluation {
        try Trainer.evaluate(network, on: data, batchSize: batchSize)
    }

    /// The logits of `data`'s examples, `[n, classes]` row-major.
    public func logits(for data: Dataset, batchSize: Int = evaluationBatch) throws -> [Float] {
        var result: [Float] = []
        try data.inOrder(batchSize: batchSize) { inputs, _ in result += try network.forward(inputs).elements }
        return result
    }

    /// The last hidden state of every token, `[n, length, width]` row-major (BERT encoders).
    public func hiddenStates(for data: Dataset, batchSize: Int = 32) throws -> [Float] {
        var result: [Float] = []
        try data.inOrder(batchSize: batchSize) { inputs, _ in result += try network.hiddenStates(inputs).elements }
        return result
    }

    /// True when the network gives hidden states (`hiddenStates(for:)`).
    public var hasHiddenStates: Bool { network.hasHiddenStates }

    /// Stage 2's matrices in model order: each one's merged singular values and the trained
    /// ones (equal before training with `--sv-init merged`, zero with the default start).
    public var singularValueTraces: [(name: String, merged: [Float], trained: [Float])] {
        network.linears.compactMap { linear in
            linear.singular.map { (linear.weight.name, $0.merged, $0.s.value.elements) }
        }
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
        output.metadata["amalgam.architecture"] = .string(architecture)
        for (key, value) in network.recordedMetadata { output.metadata[key] = value }
        return output
    }
}
