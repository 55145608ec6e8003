import AmalgamCore
import Tuning

/// Training steps the zoo and the transfer benchmark share.
enum ZooTraining {
    /// `graph` without its classification heads (`classifier.*`, `score.*`, `head.*`): the
    /// body a new task's head goes on.
    static func body(of graph: ModelGraph) throws -> ModelGraph {
        var body = try ModelGraph(
            tensors: graph.tensors.filter { !LayerPosition.isClassificationHead($0.name) }, metadata: graph.metadata,
            architecture: graph.architecture, sourceFormat: graph.sourceFormat, attachments: graph.attachments)
        body.notes = graph.notes
        return body
    }

    /// Trains `graph` with `setup` for `classes` labels on `train`; the trained graph and
    /// its accuracy on `test`.
    static func train(
        _ graph: ModelGraph, base: ModelGraph? = nil, factors: FactorSet? = nil, setup: TuningSetup, classes: Int,
        train: Dataset, test: Dataset, progress: any ProgressReporter
    ) throws -> (graph: ModelGraph, accuracy: Double) {
        let model = try TunableModel(graph: graph, base: base, factors: factors, setup: setup, classes: classes)
        try model.check(train, path: "training data")
        try model.check(test, path: "test data")
        _ = try model.train(on: train, eval: nil, progress: progress)
        return (try model.trainedGraph(), try model.evaluate(on: test).accuracy)
    }
}
