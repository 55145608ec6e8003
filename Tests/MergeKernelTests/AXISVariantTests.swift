import AmalgamCore
import Foundation
import LinearAlgebra
import Testing

@testable import MergeKernel

/// AXIS's variants beyond the paper (ranking, quota, orthogonalisation, remainder), each
/// against a straightforward dense reference built from exact SVDs.
struct AXISVariantTests {
    static let (m, n) = (24, 20)
    static let shape = Shape([24, 20])

    /// Two sources of the same spectrum shape, the first ten times larger, and a third.
    static func deltas() throws -> [[Float]] {
        [
            try lowRankPlusNoise(rows: m, columns: n, rank: 8, scale: 10, noise: 0.01, seed: 1),
            try lowRankPlusNoise(rows: m, columns: n, rank: 8, scale: 1, noise: 0.01, seed: 2),
            try lowRankPlusNoise(rows: m, columns: n, rank: 6, scale: 2, noise: 0.01, seed: 3),
        ]
    }

    static let base = (0..<(24 * 20)).map { Float($0 % 7) * 0.1 }

    static func mergeInput(_ deltas: [[Float]]) -> TensorMergeInput {
        TensorMergeInput(
            name: "w", shape: shape, base: base, taskVectors: deltas, sourceIndices: Array(deltas.indices),
            isMergedMatrix: true, seed: 42)
    }

    /// The top `k` of every source's exact components ranked by `key(value, source)`, each
    /// source's first `quota` kept first: (source, index) pairs and the summed update.
    static func reference(
        _ deltas: [[Float]], k: Int, quota: Int = 0, key: (Float, Int) -> Double
    ) throws -> (counts: [Int], update: [Float], svds: [SingularValueDecomposition], selected: [(Int, Int)]) {
        let svds = try deltas.map { try SingularValueDecomposition(Matrix(rows: m, columns: n, elements: $0)) }
        var kept: [(Int, Int)] = []
        var pool: [(key: Double, source: Int, index: Int)] = []
        for (source, svd) in svds.enumerated() {
            for (index, value) in svd.singularValues.enumerated() where value > 0 {
                if index < quota {
                    kept.append((source, index))
                } else {
                    pool.append((key(value, source), source, index))
                }
            }
        }
        pool.sort { ($0.key, -$0.source, -$0.index) > ($1.key, -$1.source, -$1.index) }
        let selected = kept + pool.prefix(k - kept.count).map { ($0.source, $0.index) }
        var counts = [Int](repeating: 0, count: deltas.count)
        var update = [Double](repeating: 0, count: m * n)
        for (source, index) in selected {
            counts[source] += 1
            let svd = svds[source]
            for i in 0..<m {
                for j in 0..<n {
                    update[i * n + j] +=
                        Double(svd.u[i, index]) * Double(svd.singularValues[index]) * Double(svd.vt[index, j])
                }
            }
        }
        return (counts, update.map { Float($0) }, svds, selected)
    }

    static func update(_ result: TensorMergeResult) -> [Float] { zip(result.merged, base).map { $0 - $1 } }

    static func counts(_ result: TensorMergeResult) -> [Int]? {
        JSONValue.object(result.details)["components_per_source"]?.arrayValue?.compactMap { $0.uint64Value }.map {
            Int($0)
        }
    }

    @Test(
        "normalized ranking pools σ / ‖Di‖_F: the large source no longer takes every place", arguments: [false, true])
    func normalizedRanking(exact: Bool) throws {
        let deltas = try Self.deltas()
        let norms = deltas.map { MergeMath.norm($0) }
        let raw = try AXISMerge(count: 6, exactSVD: exact).merge(Self.mergeInput(deltas))
        #expect(Self.counts(raw) == [6, 0, 0])
        let result = try AXISMerge(count: 6, exactSVD: exact, ranking: .normalized).merge(Self.mergeInput(deltas))
        let expected = try Self.reference(deltas, k: 6) { value, source in Double(value) / norms[source] }
        #expect(Self.counts(result) == expected.counts)
        #expect(expected.counts.filter { $0 > 0 }.count == 3)
        #expect(relativeError(Self.update(result), expected.update) < 1e-4)
        #expect(JSONValue.object(result.details)["selection_certified"] != .bool(false))
    }

    @Test("a per-source quota keeps ⌊K / T⌋ of each source before the ranking fills the rest")
    func quota() throws {
        let deltas = try Self.deltas()
        let result = try AXISMerge(count: 7, perSourceQuota: true).merge(Self.mergeInput(deltas))
        let expected = try Self.reference(deltas, k: 7, quota: 2) { value, _ in Double(value) }
        #expect(expected.counts == [3, 2, 2])
        #expect(Self.counts(result) == expected.counts)
        #expect(relativeError(Self.update(result), expected.update) < 1e-4)
    }

    @Test("TSV orthogonalisation: U⊥ diag(σ) V⊥ᵀ of the selection, orthonormal factors in decreasing order")
    func orthogonalisation() throws {
        let deltas = try Self.deltas().map { $0.map { $0 * 1 } }
        let balanced = [deltas[0].map { $0 / 10 }, deltas[1], deltas[2].map { $0 / 2 }]
        let result = try AXISMerge(count: 6, exactSVD: true, orthogonalization: .tsv).merge(Self.mergeInput(balanced))
        let expected = try Self.reference(balanced, k: 6) { value, _ in Double(value) }
        #expect(expected.counts.filter { $0 > 0 }.count > 1)
        // The reference: the selected singular vectors as columns, each side replaced by P Qᵀ.
        let k = expected.selected.count
        var u = Matrix(zeros: Self.m, k)
        var v = Matrix(zeros: Self.n, k)
        var values = [Float](repeating: 0, count: k)
        for (column, (source, index)) in expected.selected.enumerated() {
            let svd = expected.svds[source]
            for i in 0..<Self.m { u[i, column] = svd.u[i, index] }
            for j in 0..<Self.n { v[j, column] = svd.vt[index, j] }
            values[column] = svd.singularValues[index]
        }
        func polar(_ x: Matrix) throws -> Matrix {
            let svd = try SingularValueDecomposition(x)
            return try BLAS.multiply(svd.u, svd.vt)
        }
        let reference = try BLAS.multiply(try polar(u).scalingColumns(by: values), try polar(v), transposeB: true)
        #expect(relativeError(Self.update(result), reference.elements) < 1e-4)
        let factors = try #require(result.factors)
        #expect(factors.s == values.sorted(by: >))
        let gram = try BLAS.multiply(factors.u, transposeA: true, factors.u)
        let identity = Matrix.identity(k)
        #expect(relativeError(gram.elements, identity.elements) < 1e-5)
        // The plain sum differs: the selection's directions overlap.
        let plain = try AXISMerge(count: 6, exactSVD: true).merge(Self.mergeInput(balanced))
        #expect(relativeError(Self.update(plain), reference.elements) > 1e-3)
    }

    @Test("the TSV-M remainder: the K components first, then (I − U Uᵀ) ΔTSV, orthogonal to them")
    func remainder() throws {
        let deltas = try Self.deltas()
        let input = Self.mergeInput(deltas)
        let plain = try AXISMerge(count: 6, exactSVD: true).merge(input)
        let result = try AXISMerge(count: 6, exactSVD: true, remainder: .tsv).merge(input)
        let plainFactors = try #require(plain.factors)
        let factors = try #require(result.factors)
        #expect(Array(factors.s.prefix(6)) == plainFactors.s)
        #expect(factors.s.count > 6)
        // Reference: AXIS's update plus TSV-M's, less its projection on AXIS's column space.
        let tsv = try TSVMerge(exactSVD: true).merge(input)
        let tsvUpdate = Matrix(rows: Self.m, columns: Self.n, elements: Self.update(tsv))
        let u = plainFactors.u
        let projected = try BLAS.multiply(u, try BLAS.multiply(u, transposeA: true, tsvUpdate))
        let reference = zip(zip(Self.update(plain), tsvUpdate.elements), projected.elements).map { $0.0 + $0.1 - $1 }
        #expect(relativeError(Self.update(result), reference) < 1e-4)
        var rest = Matrix(zeros: Self.m, factors.s.count - 6)
        for i in 0..<Self.m { for j in 0..<rest.columns { rest[i, j] = factors.u[i, 6 + j] } }
        let cross = try BLAS.multiply(u, transposeA: true, rest)
        #expect(cross.elements.allSatisfy { abs($0) < 1e-4 })
        let details = JSONValue.object(result.details)
        #expect(details["remainder_singular_values"]?.arrayValue?.count == factors.s.count - 6)
    }
}
