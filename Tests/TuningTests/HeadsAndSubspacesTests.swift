import AmalgamCore
import LinearAlgebra
import Testing

@testable import Tuning

/// Heads on merged bodies (a new head after the chain, never in place of a merged layer),
/// the head's own learning rate, and Stage 2's subspaces from the base or at random.
struct HeadsAndSubspacesTests {
    static func data(_ count: Int, width: Int, classes: Int, seed: UInt64) throws -> Dataset {
        var random = SeededRandom(seed: seed)
        let x = Models.random([count, width], &random, scale: 1)
        let y = (0..<count).map { Int64($0 % classes) }
        return try Dataset(
            graph: try ModelGraph(tensors: [
                Tensor(name: "x", shape: [count, width], floats: x),
                Tensor(name: "y", shape: [count], integers: y),
            ]), path: "data")
    }

    @Test("a body whose last layer does not narrow gets a new classifier after it; that layer stays in the body")
    func newHeadAfterTheBody() throws {
        let body = try Models.mlp(widths: [6, 8, 8], seed: 1)
        #expect(TunableModel.headClassCount(in: body) == nil)
        var setup = TuningSetup(mode: .head)
        let model = try TunableModel(graph: body, setup: setup, classes: 8)
        #expect(model.trainableCounts.total == 8 * 8 + 8)
        #expect(
            model.notes == ["the model has no head for 8 classes: created classifier.weight, classifier.bias (trained)"]
        )
        let written = try model.trainedGraph()
        #expect(written.tensors.map(\.name).suffix(2) == ["classifier.weight", "classifier.bias"])
        #expect(try written["layers.2.weight"]!.floatValues() == body["layers.2.weight"]!.floatValues())
        setup.mode = .full
        #expect(
            try TunableModel(graph: body, setup: setup, classes: 8).trainableCounts.total == 6 * 8 + 8 + 8 * 8 + 8 + 8
                * 8 + 8)
    }

    @Test("a narrowing last layer with the labels' count is the head, as before")
    func narrowingLastLayerIsTheHead() throws {
        let model = try Models.mlp(widths: [6, 8, 3], seed: 2)
        #expect(TunableModel.headClassCount(in: model) == 3)
        let tunable = try TunableModel(graph: model, setup: TuningSetup(mode: .head), classes: 3)
        #expect(tunable.hasOwnHead && tunable.trainableCounts.total == 3 * 8 + 3)
    }

    @Test("a classifier after the chain for other labels is replaced by a new one of the same name")
    func otherClassifierIsReplaced() throws {
        var model = try Models.mlp(widths: [6, 8, 8], seed: 3)
        try model.append(Tensor(name: "classifier.weight", shape: [4, 8], floats: [Float](repeating: 0.1, count: 32)))
        try model.append(Tensor(name: "classifier.bias", shape: [4], floats: [0, 0, 0, 0]))
        #expect(TunableModel.headClassCount(in: model) == 4)
        let tunable = try TunableModel(graph: model, setup: TuningSetup(mode: .head), classes: 10)
        #expect(tunable.trainableCounts.head == 10 * 8 + 10)
        #expect(try tunable.trainedGraph()["classifier.weight"]!.shape == [10, 8])
    }

    @Test("the head trains at its own rate: with --lr 0 and --head-lr 0.1 only the head moves")
    func headLearningRate() throws {
        let body = try Models.mlp(widths: [6, 8, 8], seed: 4)
        var setup = TuningSetup(mode: .full)
        setup.training.learningRate = 0
        setup.training.headLearningRate = 0.1
        setup.training.weightDecay = 0
        setup.training.epochs = 1
        setup.training.batchSize = 16
        let model = try TunableModel(graph: body, setup: setup, classes: 3)
        let before = try model.trainedGraph()
        _ = try model.train(on: try Self.data(32, width: 6, classes: 3, seed: 5), eval: nil)
        let after = try model.trainedGraph()
        for name in ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"] {
            #expect(try after[name]!.floatValues() == before[name]!.floatValues(), "\(name)")
        }
        #expect(try after["classifier.weight"]!.floatValues() != before["classifier.weight"]!.floatValues())
    }

    static func columnsAreOrthonormal(_ values: [Float], rows: Int, columns: Int) -> Bool {
        for a in 0..<columns {
            for b in 0..<columns {
                let dot = (0..<rows).reduce(Float(0)) { $0 + values[$1 * columns + a] * values[$1 * columns + b] }
                if abs(dot - (a == b ? 1 : 0)) > 1e-4 { return false }
            }
        }
        return true
    }

    @Test("base subspace: the top-N singular vectors of W0 (Uᵀ W0 V is their values), S = 0")
    func baseSubspace() throws {
        let graph = try Models.mlp(widths: [10, 12, 12], seed: 6)
        let factors = try StageTwoSubspace.base.factors(for: graph, count: .fraction(0.25), seed: 0)
        #expect(factors.matrices.map(\.name) == ["layers.0.weight", "layers.2.weight"])
        let f = try #require(factors["layers.0.weight"])
        #expect(f.rank == 3 && f.s == [0, 0, 0])  // round-half-up(0.25 · 10) = 3
        #expect(Self.columnsAreOrthonormal(f.u, rows: 12, columns: 3))
        #expect(Self.columnsAreOrthonormal(f.v, rows: 10, columns: 3))
        let w = try graph["layers.0.weight"]!.floatValues()
        let svd = try SingularValueDecomposition(Matrix(rows: 12, columns: 10, elements: w))
        for k in 0..<3 {
            var projection: Float = 0
            for i in 0..<12 { for j in 0..<10 { projection += f.u[i * 3 + k] * w[i * 10 + j] * f.v[j * 3 + k] } }
            #expect(abs(projection - svd.singularValues[k]) < 1e-4 * svd.singularValues[0])
        }
    }

    @Test("random subspace: orthonormal, seeded, another seed other directions")
    func randomSubspace() throws {
        let graph = try Models.mlp(widths: [10, 12, 12], seed: 6)
        let one = try StageTwoSubspace.random.factors(for: graph, count: .count(4), seed: 1)
        let again = try StageTwoSubspace.random.factors(for: graph, count: .count(4), seed: 1)
        let other = try StageTwoSubspace.random.factors(for: graph, count: .count(4), seed: 2)
        let f = try #require(one["layers.2.weight"])
        #expect(
            Self.columnsAreOrthonormal(f.u, rows: 12, columns: 4)
                && Self.columnsAreOrthonormal(f.v, rows: 12, columns: 4))
        #expect(f.u == again["layers.2.weight"]!.u && f.u != other["layers.2.weight"]!.u)
    }

    @Test("Base+S2 before any step computes the base itself (W0 + U·0·Vᵀ)")
    func baseSubspaceStartsAtTheBase() throws {
        let graph = try Models.mlp(widths: [6, 8, 3], seed: 7)
        let factors = try StageTwoSubspace.base.factors(for: graph, count: .count(2), seed: 0)
        var setup = TuningSetup(mode: .singularValues)
        setup.training.epochs = 0
        let data = try Self.data(16, width: 6, classes: 3, seed: 8)
        let tuned = try TunableModel(graph: graph, base: graph, factors: factors, setup: setup, classes: 3)
        let plain = try TunableModel(graph: graph, setup: TuningSetup(mode: .head), classes: 3)
        #expect(try tuned.logits(for: data) == plain.logits(for: data))
    }
}
