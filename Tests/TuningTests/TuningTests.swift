import AmalgamCore
import LinearAlgebra
import Testing

@testable import Tuning

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
