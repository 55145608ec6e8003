import AmalgamCore
import Foundation
import LinearAlgebra
import Testing

@testable import MergeKernel

struct BaselineTests {
    let base: [Float] = [0, 0, 0, 0]
    var sources: [[Float]] { [[1, -2, 3, 0.5], [3, 2, -1, 0.5], [-1, 4, 1, -2]] }
    var mergeInput: TensorMergeInput {
        TensorMergeInput(
            name: "w", shape: [2, 2], base: base, sources: sources, sourceIndices: [0, 1, 2], isMergedMatrix: true,
            seed: 7)
    }

    @Test func average() throws {
        #expect(try AverageMerge().merge(mergeInput).merged == [1, 4.0 / 3, 1, -1.0 / 3])
    }

    @Test func taskArithmetic() throws {
        #expect(try TaskArithmeticMerge(lambda: 0.5).merge(mergeInput).merged == [1.5, 2, 1.5, -0.5])
    }

    @Test("TIES by hand: keep the top 50% of each source, elect signs, disjoint mean")
    func ties() throws {
        // Trimmed (2 of 4 kept): [0, -2, 3, 0], [3, 2, 0, 0], [0, 4, 0, -2].
        // Sums: 3, 4, 3, -2 -> signs +, +, +, -. Agreeing entries: [3], [2, 4], [3], [-2].
        #expect(try TIESMerge(density: 0.5, lambda: 1).merge(mergeInput).merged == [3, 3, 3, -2])
        #expect(TIESMerge.keepLargest([1, -5, 5, 2], count: 2) == [0, -5, 5, 0])
        #expect(TIESMerge.kthLargestMagnitude([3, -7, 1, 7, 2], k: 3) == 3)
    }

    @Test("DARE is deterministic under a seed and unbiased in expectation")
    func dare() throws {
        let m = 8
        let n = 8
        var random = SeededRandom(seed: 1)
        let sources = (0..<2).map { _ in (0..<(m * n)).map { _ in random.nextSignedUnitFloat() } }
        let zero = [Float](repeating: 0, count: m * n)
        let method = DAREMerge(drop: 0.7, lambda: 1, ties: false)
        let make = { (seed: UInt64) in
            TensorMergeInput(
                name: "w", shape: [m, n], base: zero, sources: sources, sourceIndices: [0, 1], isMergedMatrix: true,
                seed: seed)
        }
        #expect(try method.merge(make(3)).merged == method.merge(make(3)).merged)
        #expect(try method.merge(make(3)).merged != method.merge(make(4)).merged)
        let dropped = try method.merge(make(3)).merged.filter { $0 == 0 }.count
        #expect(dropped > 0)
        var mean = [Double](repeating: 0, count: m * n)
        let trials = 4000
        for seed in 0..<trials {
            for (i, value) in try method.merge(make(UInt64(seed))).merged.enumerated() {
                mean[i] += Double(value) / Double(trials)
            }
        }
        let expected = (0..<(m * n)).map { Double(sources[0][$0] + sources[1][$0]) }
        // Each entry's estimator has standard deviation about 0.03 here.
        #expect(zip(mean, expected).allSatisfy { abs($0 - $1) < 0.15 })
        #expect(zip(mean, expected).reduce(0.0) { $0 + ($1.0 - $1.1) } / Double(m * n) < 0.02)
    }

    @Test("TSV with one source and full rank reproduces the task vector")
    func tsv() throws {
        let m = 12
        let n = 9
        let delta = try lowRankPlusNoise(rows: m, columns: n, rank: 9, scale: 1, noise: 0, seed: 2)
        let zero = [Float](repeating: 0, count: m * n)
        let result = try TSVMerge(exactSVD: true).merge(
            TensorMergeInput(
                name: "w", shape: [m, n], base: zero, sources: [delta], sourceIndices: [0], isMergedMatrix: true,
                seed: 0))
        #expect(relativeError(result.merged, delta) < 1e-4)
    }

    @Test("TSV reports the merged update's singular values and each source's spectrum")
    func tsvSpectra() throws {
        let (m, n) = (16, 10)
        let zero = [Float](repeating: 0, count: m * n)
        let sources = try (0..<3).map { seed in
            try lowRankPlusNoise(rows: m, columns: n, rank: 4, scale: 1, noise: 0.05, seed: UInt64(seed) + 3)
        }
        let result = try TSVMerge(exactSVD: true).merge(
            TensorMergeInput(
                name: "w", shape: [m, n], base: zero, sources: sources, sourceIndices: [0, 1, 2], isMergedMatrix: true,
                seed: 0))
        func values(_ key: String) -> [JSONValue] { result.details.first { $0.key == key }?.value.arrayValue ?? [] }
        let reported = values("merged_singular_values").compactMap(\.doubleValue)
        let actual = try SingularValueDecomposition(Matrix(rows: m, columns: n, elements: result.merged)).singularValues
        #expect(reported.count == 9)  // 3 sources x min(m, n) / 3
        for (value, expected) in zip(reported, actual) {
            #expect(abs(value - Double(expected)) < 1e-4 * Double(actual[0]))
        }
        let spectra = values("source_singular_values").map { $0.arrayValue?.compactMap(\.doubleValue) ?? [] }
        for (spectrum, source) in zip(spectra, sources) {
            let exact = try SingularValueDecomposition(Matrix(rows: m, columns: n, elements: source)).singularValues
            #expect(spectrum.count == 3 && zip(spectrum, exact).allSatisfy { abs($0 - Double($1)) < 1e-4 })
        }
    }

    @Test("name patterns")
    func patterns() {
        #expect(NamePattern("*embed*").matches("model.embed_tokens.weight"))
        #expect(NamePattern("lm_head.*").matches("lm_head.weight"))
        #expect(!NamePattern("lm_head.*").matches("model.lm_head"))
        #expect(NamePattern("layers.?.mlp.*").matches("layers.3.mlp.up.weight"))
    }
}
