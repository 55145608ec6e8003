import AmalgamCore
import Testing

@testable import Tuning

/// Stage 2's N spread over the matrices by energy: the same total as uniform N, given to
/// the components with the largest share of their matrix's energy.
struct SingularValueAllocationTests {
    static func factors(_ spectra: [(String, [Float])]) -> FactorSet {
        var set = FactorSet()
        for (name, s) in spectra {
            let (m, n, r) = (6, 5, s.count)
            set.add(
                FactorSet.Factors(
                    rows: m, columns: n, u: [Float](repeating: 0, count: m * r), s: s,
                    v: [Float](repeating: 0, count: n * r)), for: name)
        }
        return set
    }

    @Test("energy: a flat spectrum takes the places a peaked one does not need; the total stays Σ min(N, rank)")
    func energyAllocation() {
        let set = Self.factors([("flat", [10, 9, 8, 7]), ("peaked", [10, 1, 0.1, 0.01]), ("short", [3])])
        #expect(SingularValueAllocation.uniform.counts(set, count: .count(2)) == ["flat": 2, "peaked": 2, "short": 1])
        // Shares of the flat spectrum: 0.34, 0.28, 0.22, 0.17; of the peaked one 0.99, 0.0099, ...
        // Each matrix keeps its first; the 2 places left go to flat's 2nd and 3rd.
        #expect(SingularValueAllocation.energy.counts(set, count: .count(2)) == ["flat": 3, "peaked": 1, "short": 1])
        #expect(SingularValueAllocation.energy.counts(set, count: .count(4)).values.reduce(0, +) == 9)
    }

    @Test("energy allocation trains the counts it chose, at the same total trainable count")
    func tunableModelUsesAllocation() throws {
        let graph = try Models.mlp(widths: [6, 5, 5, 3], seed: 1)
        var set = FactorSet()
        var random = SeededRandom(seed: 3)
        for (name, s) in [("layers.0.weight", [Float(4), 3, 2, 1]), ("layers.2.weight", [4, 0.1, 0.01, 0.001])] {
            let dims = try #require(graph[name]).shape.dimensions
            set.add(
                FactorSet.Factors(
                    rows: dims[0], columns: dims[1], u: Models.random([dims[0], 4], &random, scale: 1), s: s,
                    v: Models.random([dims[1], 4], &random, scale: 1)), for: name)
        }
        var setup = TuningSetup(mode: .singularValues)
        setup.singularValueCount = .count(2)
        func trained(_ model: TunableModel) -> [Int] { model.network.linears.compactMap { $0.singular?.s.count } }
        let uniform = try TunableModel(graph: graph, base: graph, factors: set, setup: setup, classes: 3)
        setup.singularValueAllocation = .energy
        let energy = try TunableModel(graph: graph, base: graph, factors: set, setup: setup, classes: 3)
        #expect(trained(uniform) == [2, 2])
        #expect(trained(energy) == [3, 1])
        #expect(uniform.trainableCounts.total == energy.trainableCounts.total)
    }
}
