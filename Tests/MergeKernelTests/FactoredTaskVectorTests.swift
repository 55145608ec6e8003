import AmalgamCore
import LinearAlgebra
import Testing

@testable import MergeKernel

/// Task vectors as factors `B A` (LoRA): the exact thin SVD from two QRs and an r x r SVD, and
/// AXIS / TSV-M on factors against the same methods on the dense `B A`.
struct FactoredTaskVectorTests {
    static func factors(rows m: Int, columns n: Int, rank r: Int, seed: UInt64) -> FactoredTaskVector {
        var random = SeededRandom(seed: seed)
        func gaussian(_ rows: Int, _ columns: Int) -> Matrix {
            Matrix(
                rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in Float(random.nextGaussian()) }
            )
        }
        return FactoredTaskVector(b: gaussian(m, r), a: gaussian(r, n))
    }

    @Test(
        "the factored SVD equals sgesdd's of B A: values, and the rebuilt product",
        arguments: [(40, 24, 5), (24, 40, 5), (12, 9, 9), (7, 30, 12)])
    func singularValuesMatchTheDenseSVD(m: Int, n: Int, r: Int) throws {
        let vector = Self.factors(rows: m, columns: n, rank: r, seed: UInt64(m * n + r))
        let dense = try vector.dense()
        let exact = try SingularValueDecomposition(Matrix(rows: m, columns: n, elements: dense))
        let factored = try vector.singularValueDecomposition(truncatedTo: r)
        let rank = min(r, m, n)
        #expect(factored.singularValues.count == rank)
        let largest = exact.singularValues[0]
        for i in 0..<rank { #expect(abs(factored.singularValues[i] - exact.singularValues[i]) <= 1e-5 * largest) }
        let rebuilt = try factored.reconstructed().elements
        let error = zip(rebuilt, dense).map { abs($0 - $1) }.max()!
        #expect(error <= 1e-5 * largest)
        // The norm from the r x r Gram matrices.
        let norm = dense.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(abs(try vector.squaredNorm - norm) <= 1e-5 * norm)
    }

    @Test("a zero-rank vector has no components and norm 0")
    func zeroRank() throws {
        let vector = FactoredTaskVector(b: Matrix(zeros: 6, 0), a: Matrix(zeros: 0, 4))
        #expect(try vector.squaredNorm == 0)
        #expect(try vector.singularValueDecomposition(truncatedTo: 3).singularValues.isEmpty)
        #expect(try vector.dense() == [Float](repeating: 0, count: 24))
    }

    @Test("axis and tsv on factors give the merge of the dense task vectors", arguments: ["axis", "tsv"])
    func methodsOnFactorsMatchDense(method: String) throws {
        let (m, n) = (48, 32)
        let vectors = (0..<3).map { Self.factors(rows: m, columns: n, rank: 4 + $0, seed: 90 + UInt64($0)) }
        let base = (0..<(m * n)).map { Float($0 % 7) * 0.01 }
        let dense = try vectors.map { try $0.dense() }
        let merger: any MergeMethod = method == "axis" ? AXISMerge(count: 8, exactSVD: true) : TSVMerge(exactSVD: true)
        let expected = try merger.merge(
            input(
                base: base, sources: zip(dense, [base, base, base]).map { zip($0, $1).map(+) }, shape: Shape([m, n])))
        var factored = TensorMergeInput(
            name: "w", shape: Shape([m, n]), base: base, taskVectors: [[], [], []], sourceIndices: [0, 1, 2],
            isMergedMatrix: true, seed: 42)
        factored.factoredTaskVectors = vectors
        let result = try merger.merge(factored)
        let scale = dense.flatMap { $0 }.map(abs).max()!
        let error = zip(result.merged, expected.merged).map { abs($0 - $1) }.max()!
        #expect(error <= 1e-5 * scale, "\(method): \(error)")
    }
}
