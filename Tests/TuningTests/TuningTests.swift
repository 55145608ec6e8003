import AmalgamCore
import LinearAlgebra
import Testing

@testable import Tuning

/// A planted Stage 2 problem: an MLP base, merge factors `U`, `V` for its first layer, and
/// labels from the same network with `W* = W0 + U diag(s*) Vᵀ`. Tuning only `s` can reach
/// the planted accuracy (100%); the base cannot.
struct PlantedTask {
    let base: ModelGraph
    let merged: ModelGraph
    let factors: FactorSet
    let train: Dataset
    let test: Dataset
    static let (inputs, hidden, classes, rank) = (8, 16, 3, 4)

    init(seed: UInt64 = 11) throws {
        var generator = SeededRandom(seed: seed)
        base = try Models.mlp(widths: [Self.inputs, Self.hidden, Self.classes], seed: seed)
        // Orthonormal directions from a QR of random matrices.
        let u = try QRDecomposition(
            Matrix(
                rows: Self.hidden, columns: Self.rank, elements: Models.random([Self.hidden, Self.rank], &generator))
        ).q
        let v = try QRDecomposition(
            Matrix(
                rows: Self.inputs, columns: Self.rank, elements: Models.random([Self.inputs, Self.rank], &generator))
        ).q
        let planted: [Float] = [4, 3, 2.5, 2]
        factors = try FactorSet(
            graph: try ModelGraph(tensors: [
                Tensor(name: "layers.0.weight.U", shape: [Self.hidden, Self.rank], floats: u.elements),
                Tensor(name: "layers.0.weight.S", shape: [Self.rank], floats: [1, 1, 1, 1]),
                Tensor(name: "layers.0.weight.V", shape: [Self.inputs, Self.rank], floats: v.elements),
            ]))
        var w0 = Matrix(rows: Self.hidden, columns: Self.inputs, elements: try base["layers.0.weight"]!.floatValues())
        var mergedWeight = w0
        try BLAS.gemm(u, v, transposeB: true, beta: 1, into: &mergedWeight)
        merged = try base.mapTensors {
            $0.name == "layers.0.weight" ? Tensor(name: $0.name, shape: $0.shape, floats: mergedWeight.elements) : $0
        }
        try BLAS.gemm(u.scalingColumns(by: planted), v, transposeB: true, beta: 1, into: &w0)
        let teacherGraph = try base.mapTensors {
            $0.name == "layers.0.weight" ? Tensor(name: $0.name, shape: $0.shape, floats: w0.elements) : $0
        }
        let teacher = try MLPClassifier(
            store: ParameterStore(graph: teacherGraph, mode: .full),
            prefixes: MLPClassifier.layerPrefixes(in: teacherGraph)!, activation: .relu, classes: Self.classes)
        /// Examples the teacher classifies with a clear margin (so that the planted values,
        /// not sharper ones, are what fits the labels best).
        func data(_ count: Int) throws -> Dataset {
            var x: [Float] = []
            var labels: [Int] = []
            while labels.count < count {
                let candidate = Models.random([1, Self.inputs], &generator, scale: 2)
                let logits = try teacher.forward(.features(Matrix(rows: 1, columns: Self.inputs, elements: candidate)))
                    .elements
                let ranked = logits.indices.sorted { logits[$0] > logits[$1] }
                guard logits[ranked[0]] - logits[ranked[1]] >= 1 else { continue }
                x += candidate
                labels.append(ranked[0])
            }
            return try Dataset(
                graph: ModelGraph(tensors: [
                    Tensor(name: "x", shape: [count, Self.inputs], floats: x),
                    Tensor(
                        name: "y", shape: [count], encoding: .plain(.i64),
                        storage: .region(labels.map(Int64.init).withUnsafeBytes { ByteRegion(copying: $0) })),
                ]), path: "planted.npz")
        }
        train = try data(2000)
        test = try data(500)
    }
}

@Suite struct TuningTests {
    @Test("singular-value tuning reaches the planted solution's accuracy; the base does not")
    func plantedSolutionIsLearned() throws {
        let task = try PlantedTask()
        var setup = TuningSetup(mode: .singularValues)
        setup.singularValueCount = .count(4)
        setup.activation = .relu
        setup.training.epochs = 30
        setup.training.batchSize = 64
        setup.training.learningRate = 0.1
        setup.training.weightDecay = 0
        let base = try TunableModel(
            graph: task.base,
            setup: {
                var s = TuningSetup(mode: .head)
                s.activation = .relu
                return s
            }(), classes: 3)
        let before = try base.evaluate(on: task.test)
        let model = try TunableModel(
            graph: task.merged, base: task.base, factors: task.factors, setup: setup, classes: 3)
        #expect(
            model.trainableCounts.total == 4 && model.trainableCounts.singularValues == 4
                && model.trainableCounts.head == 0)
        let records = try model.train(on: task.train, eval: task.test)
        let after = try model.evaluate(on: task.test)
        print(
            "planted task: base accuracy \(before.accuracy), tuned \(after.accuracy) (loss \(records.first!.trainLoss) -> \(records.last!.trainLoss))"
        )
        #expect(before.accuracy < 0.8)
        #expect(after.accuracy >= 0.97)
        #expect(records.last!.evalAccuracy == after.accuracy)
    }

    @Test("zero start, no training: the base's outputs and weights exactly")
    func zeroStartReproducesTheBase() throws {
        let task = try PlantedTask()
        var setup = TuningSetup(mode: .singularValues)
        setup.singularValueCount = .fraction(0.5)  // 4 of min(16, 8): the whole rank
        setup.activation = .relu
        setup.training.epochs = 0
        let model = try TunableModel(
            graph: task.merged, base: task.base, factors: task.factors, setup: setup, classes: 3)
        #expect(model.notes.isEmpty)
        _ = try model.train(on: task.train, eval: nil)
        let base = try TunableModel(
            graph: task.base,
            setup: {
                var s = TuningSetup(mode: .head)
                s.activation = .relu
                return s
            }(), classes: 3)
        #expect(try model.logits(for: task.test) == base.logits(for: task.test))
        let written = try model.trainedGraph()
        for tensor in task.base.tensors {
            #expect(try written[tensor.name]!.floatValues() == tensor.floatValues(), "\(tensor.name)")
        }
        #expect(
            written.metadata["amalgam.activation"] == .string("relu")
                && written.metadata["amalgam.architecture"] == .string("mlp"))
    }

    @Test("more values than the factors' rank are capped, with a note")
    func countIsCappedAtTheRank() throws {
        let task = try PlantedTask()
        var setup = TuningSetup(mode: .singularValues)
        setup.singularValueCount = .count(7)
        let model = try TunableModel(
            graph: task.merged, base: task.base, factors: task.factors, setup: setup, classes: 3)
        #expect(model.trainableCounts.singularValues == 4)
        #expect(
            model.notes == [
                "layers.0.weight: 7 singular values asked, the factors have rank 4: training 4 (merge with a larger K to train more)"
            ])
    }

    @Test("merged start: the merged model's outputs before any step")
    func mergedStartIsTheMerge() throws {
        let task = try PlantedTask()
        var setup = TuningSetup(mode: .singularValues)
        setup.singularValueCount = .count(2)
        setup.singularValueStart = .merged
        let model = try TunableModel(
            graph: task.merged, base: task.base, factors: task.factors, setup: setup, classes: 3)
        let merged = try TunableModel(graph: task.merged, setup: TuningSetup(mode: .head), classes: 3)
        let (a, b) = (try model.logits(for: task.test), try merged.logits(for: task.test))
        #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
    }

    @Test("the same seed gives the same weights; another seed other weights")
    func determinism() throws {
        let task = try PlantedTask()
        func run(seed: UInt64) throws -> [Float] {
            var setup = TuningSetup(mode: .full)
            setup.training.epochs = 2
            setup.training.batchSize = 50
            setup.training.seed = seed
            let model = try TunableModel(graph: task.base, setup: setup, classes: 3)
            _ = try model.train(on: task.train, eval: nil)
            return try model.trainedGraph().tensors.flatMap { try $0.floatValues() }
        }
        #expect(try run(seed: 1) == run(seed: 1))
        #expect(try run(seed: 1) != run(seed: 2))
    }

    @Test("a head is created for a new label count and trained with the rest frozen")
    func newHead() throws {
        let graph = try Models.bert(classes: nil, seed: 3)
        var setup = TuningSetup(mode: .head)
        setup.transformer.heads = 2
        let model = try TunableModel(graph: graph, setup: setup, classes: 4)
        #expect(!model.hasOwnHead)
        #expect(model.trainableCounts.total == 4 * 8 + 4 && model.trainableCounts.head == 36)
        #expect(
            model.notes == ["the model has no head for 4 classes: created classifier.weight, classifier.bias (trained)"]
        )
        let written = try model.trainedGraph()
        #expect(written["classifier.weight"]?.shape == [4, 8] && written.tensors.count == graph.tensors.count + 2)
    }

    @Test("the cosine schedule starts at the peak and ends near zero")
    func schedule() {
        var options = TrainingOptions()
        options.learningRate = 0.1
        let optimizer = AdamW(options: options, totalSteps: 100)
        #expect(optimizer.learningRate(at: 0) == 0.1)
        #expect(abs(optimizer.learningRate(at: 50) - 0.05) < 1e-12)
        #expect(optimizer.learningRate(at: 99) < 1e-4)
    }
}
