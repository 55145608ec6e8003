import AmalgamCore
import Foundation
import LinearAlgebra
import Testing

@testable import MergeKernel

/// Random task vectors: a low-rank signal with distinct singular values plus small noise.
func lowRankPlusNoise(rows m: Int, columns n: Int, rank: Int, scale: Float, noise: Float, seed: UInt64) throws
    -> [Float]
{
    var random = SeededRandom(seed: seed)
    let gaussian = { (r: Int, c: Int) in
        Matrix(rows: r, columns: c, elements: (0..<(r * c)).map { _ in Float(random.nextGaussian()) })
    }
    let u = try QRDecomposition(gaussian(m, rank)).q
    let v = try QRDecomposition(gaussian(n, rank)).q
    var scaled = u
    for i in 0..<m { for j in 0..<rank { scaled[i, j] *= scale * Float(rank - j) } }
    let signal = try BLAS.multiply(scaled, v, transposeB: true)
    return signal.elements.map { $0 + noise * Float(random.nextGaussian()) }
}

func input(base: [Float], sources: [[Float]], shape: Shape) -> TensorMergeInput {
    TensorMergeInput(
        name: "w", shape: shape, base: base, sources: sources, sourceIndices: Array(sources.indices),
        isMergedMatrix: true, seed: 42)
}

/// The straightforward reference: exact SVD of every task vector, all components pooled
/// and sorted stably by value (then source, then index), the top K summed densely.
func referenceAXIS(deltas: [[Float]], rows m: Int, columns n: Int, k: Int) throws -> (
    selected: [(Int, Int)], update: [Float]
) {
    var pool: [(value: Float, source: Int, index: Int)] = []
    var svds: [SingularValueDecomposition] = []
    for (source, delta) in deltas.enumerated() {
        let svd = try SingularValueDecomposition(Matrix(rows: m, columns: n, elements: delta))
        svds.append(svd)
        for (index, value) in svd.singularValues.enumerated() { pool.append((value, source, index)) }
    }
    let sorted = pool.enumerated().sorted { a, b in
        a.element.value != b.element.value ? a.element.value > b.element.value : a.offset < b.offset
    }.map(\.element)
    let top = sorted.prefix(k)
    var update = [Double](repeating: 0, count: m * n)
    for c in top {
        let svd = svds[c.source]
        for i in 0..<m {
            for j in 0..<n {
                update[i * n + j] += Double(svd.u[i, c.index]) * Double(c.value) * Double(svd.vt[c.index, j])
            }
        }
    }
    return (top.map { ($0.source, $0.index) }, update.map { Float($0) })
}

func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    let difference = zip(a, b).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }.squareRoot()
    return difference / max(1e-30, MergeMath.norm(b))
}

struct AXISTests {
    @Test(
        "fast path selects the reference's components and matches its update within 1e-4",
        arguments: [(64, 48, 12), (48, 64, 12), (96, 96, 12), (200, 40, 12), (120, 100, 40)])
    func againstReference(rows m: Int, columns n: Int, k: Int) throws {
        let t = 4
        let deltas = try (0..<t).map {
            try lowRankPlusNoise(
                rows: m, columns: n, rank: k == 40 ? 20 : 6, scale: Float($0 + 1) * 0.7, noise: 0.001,
                seed: UInt64(10 * m + n + $0))
        }
        var random = SeededRandom(seed: 5)
        let base = (0..<(m * n)).map { _ in random.nextSignedUnitFloat() }
        let sources = deltas.map { zip(base, $0).map { $0 + $1 } }
        let (expectedSelection, expectedUpdate) = try referenceAXIS(
            deltas: input(base: base, sources: sources, shape: [m, n]).taskVectors, rows: m, columns: n, k: k)
        for exact in [false, true] {
            let method = AXISMerge(count: k, exactSVD: exact)
            let mergeInput = input(base: base, sources: sources, shape: [m, n])
            // Selection, by source and index, from the method's own decompositions.
            let matrices = mergeInput.taskVectors.map { Matrix(rows: m, columns: n, elements: $0) }
            let decompositions = try matrices.enumerated().map { position, matrix in
                exact
                    ? try SingularValueDecomposition(matrix).truncated(to: k)
                    : try RandomizedSVD.truncated(matrix, rank: k, seed: 42 &+ UInt64(position))
            }
            let selection = AXISMerge.select(decompositions, k: k).selected.map { ($0.source, $0.index) }
            #expect(
                selection.map(\.0) == expectedSelection.map(\.0) && selection.map(\.1) == expectedSelection.map(\.1),
                "exact: \(exact)")
            let result = try method.merge(mergeInput)
            let update = zip(result.merged, base).map { $0 - $1 }
            #expect(
                relativeError(update, expectedUpdate) < 1e-4,
                "exact: \(exact): \(relativeError(update, expectedUpdate))")
            let factors = try #require(result.factors)
            #expect(factors.u.rows == m && factors.v.rows == n && factors.s.count <= k)
        }
    }

    @Test("flat rank-64 spectra (as the ViT benchmark's): the fast path still selects as the exact one")
    func flatSpectra() throws {
        let m = 192
        let n = 256
        let k = 20
        let t = 4
        var random = SeededRandom(seed: 12)
        let deltas = (0..<t).map { source -> [Float] in
            // A product of Gaussian factors: 64 singular values of similar size, plus noise.
            let left = Matrix(rows: m, columns: 64, elements: (0..<(m * 64)).map { _ in Float(random.nextGaussian()) })
            let right = Matrix(
                rows: 64, columns: n,
                elements: (0..<(64 * n)).map { _ in Float(random.nextGaussian()) * Float(1 + source % 4) })
            return try! BLAS.multiply(left, right).elements.map { $0 / 8 + 1e-3 * Float(random.nextGaussian()) }
        }
        let matrices = deltas.map { Matrix(rows: m, columns: n, elements: $0) }
        let exact = AXISMerge.select(
            try matrices.map { try SingularValueDecomposition($0).truncated(to: k) }, k: k
        ).selected
        let fast = AXISMerge.select(
            try matrices.enumerated().map { try RandomizedSVD.truncated($1, rank: k, seed: UInt64($0)) }, k: k
        ).selected
        #expect(fast.map(\.source) == exact.map(\.source) && fast.map(\.index) == exact.map(\.index))
    }

    @Test(
        "equal flat spectra: the certificate sends the sources in doubt to a finer SVD; the selection is the exact path's"
    )
    func certificateRefines() throws {
        let (m, n, k, t) = (160, 120, 16, 4)
        var random = SeededRandom(seed: 31)
        // Pure Gaussian task vectors of one scale: every source's top values interleave closely.
        let deltas = (0..<t).map { _ in (0..<(m * n)).map { _ in 0.01 * Float(random.nextGaussian()) } }
        let base = [Float](repeating: 0, count: m * n)
        let sources = deltas.map { zip(base, $0).map { $0 + $1 } }
        let mergeInput = input(base: base, sources: sources, shape: [m, n])
        let fast = try AXISMerge(count: k).merge(mergeInput)
        let exact = try AXISMerge(count: k, exactSVD: true).merge(mergeInput)
        let details = JSONValue.object(fast.details)
        #expect(details["selection_certified"] == .bool(true))
        let gram = try #require(details["gram_svd_sources"]?.arrayValue)
        let exactSVDs = try #require(details["exact_svd_sources"]?.arrayValue)
        #expect(!(gram + exactSVDs).isEmpty, "flat spectra leave the sketches' selection open")
        #expect(details["components_per_source"] == JSONValue.object(exact.details)["components_per_source"])
        #expect(relativeError(fast.merged, exact.merged) < 1e-4)
    }

    @Test("a selection whose edge lies in the sources' noise floor goes to sgesdd without a Gram step")
    func noiseFloorEdgeSkipsGram() throws {
        let (m, n, k) = (120, 100, 16)
        // Two rank-6 signals: the top 16 take all 12 signal components and 4 of noise, whose
        // values are closer than the rounding margin.
        let deltas = try (0..<2).map {
            try lowRankPlusNoise(
                rows: m, columns: n, rank: 6, scale: Float($0 + 1) * 0.7, noise: 0.001, seed: UInt64(70 + $0))
        }
        let base = [Float](repeating: 0, count: m * n)
        let mergeInput = input(base: base, sources: deltas, shape: [m, n])
        let fast = try AXISMerge(count: k).merge(mergeInput)
        let exact = try AXISMerge(count: k, exactSVD: true).merge(mergeInput)
        let details = JSONValue.object(fast.details)
        // No SVD orders values within the margin, sgesdd's included: the exact path's order is kept.
        #expect(details["selection_certified"] == .bool(false))
        #expect(details["gram_svd_sources"] == .array([]))
        #expect(details["exact_svd_sources"] != .array([]))
        #expect(details["components_per_source"] == JSONValue.object(exact.details)["components_per_source"])
        #expect(fast.merged == exact.merged)
    }

    @Test("the certificate settles a selection with clear gaps without any exact SVD")
    func certificateSettles() throws {
        let (m, n, k) = (120, 100, 12)
        let deltas = try (0..<3).map {
            try lowRankPlusNoise(
                rows: m, columns: n, rank: 6, scale: Float($0 + 1) * 0.7, noise: 0.001, seed: UInt64(50 + $0))
        }
        let base = [Float](repeating: 0, count: m * n)
        let result = try AXISMerge(count: k).merge(input(base: base, sources: deltas, shape: [m, n]))
        let details = JSONValue.object(result.details)
        #expect(details["selection_certified"] == .bool(true))
        #expect(details["exact_svd_sources"] == .array([]) && details["gram_svd_sources"] == .array([]))
    }

    @Test("a source's components at or below its noise floor stay out of the pool, and are counted")
    func noiseFloor() {
        func spectrum(_ values: [Float]) -> SingularValueDecomposition {
            SingularValueDecomposition(
                u: Matrix(zeros: 4, values.count), singularValues: values, vt: Matrix(zeros: values.count, 4))
        }
        let pool = [spectrum([5, 3, 1]), spectrum([4, 2.5, 0.5])]
        let (selected, below) = AXISMerge.select(pool, k: 4, floors: [nil, 2.5])
        #expect(selected.map(\.source) == [0, 1, 0, 0] && selected.map(\.index) == [0, 0, 1, 2])
        #expect(below == [0, 2])
        let (unfloored, none) = AXISMerge.select(pool, k: 4)
        #expect(unfloored.map(\.value) == [5, 4, 3, 2.5] && none == [0, 0])
    }

    @Test("K at least the total rank reproduces the plain sum of task vectors")
    func fullRank() throws {
        let m = 40
        let n = 30
        let deltas = try (0..<3).map {
            try lowRankPlusNoise(rows: m, columns: n, rank: 3, scale: 1, noise: 0, seed: UInt64($0))
        }
        let base = [Float](repeating: 0.5, count: m * n)
        let sources = deltas.map { zip(base, $0).map { $0 + $1 } }
        let result = try AXISMerge(count: 9).merge(input(base: base, sources: sources, shape: [m, n]))
        let sum = (0..<(m * n)).map { i in deltas.reduce(Float(0)) { $0 + $1[i] } }
        #expect(relativeError(zip(result.merged, base).map { $0 - $1 }, sum) < 1e-4)
    }

    @Test("one source reproduces its own rank-K truncation")
    func oneSource() throws {
        let m = 50
        let n = 35
        let k = 5
        let delta = try lowRankPlusNoise(rows: m, columns: n, rank: 10, scale: 1, noise: 0.01, seed: 3)
        let base = [Float](repeating: 0, count: m * n)
        let result = try AXISMerge(count: k, exactSVD: true).merge(input(base: base, sources: [delta], shape: [m, n]))
        let truncation = try SingularValueDecomposition(Matrix(rows: m, columns: n, elements: delta)).truncated(to: k)
            .reconstructed()
        #expect(relativeError(result.merged, truncation.elements) < 1e-4)
    }

    @Test("ties between sources go to the earlier source, deterministically")
    func ties() throws {
        let m = 20
        let n = 16
        let delta = try lowRankPlusNoise(rows: m, columns: n, rank: 4, scale: 1, noise: 0, seed: 8)
        let base = [Float](repeating: 0, count: m * n)
        let first = try AXISMerge(count: 3, exactSVD: true).merge(
            input(base: base, sources: [delta, delta], shape: [m, n]))
        let again = try AXISMerge(count: 3, exactSVD: true).merge(
            input(base: base, sources: [delta, delta], shape: [m, n]))
        let counts = first.details.first { $0.key == "components_per_source" }?.value
        #expect(counts == .array([.integer(2), .integer(1)]))
        #expect(first.merged == again.merged)
    }

    @Test("the report holds each source's top-K spectrum and the whole merged spectrum")
    func reportedSpectra() throws {
        let (m, n) = (24, 18)
        let base = [Float](repeating: 0, count: m * n)
        let sources = try (0..<2).map {
            try lowRankPlusNoise(rows: m, columns: n, rank: 6, scale: 1, noise: 0.01, seed: UInt64($0) + 11)
        }
        let result = try AXISMerge(count: 5, exactSVD: true).merge(input(base: base, sources: sources, shape: [m, n]))
        func values(_ key: String) -> [JSONValue] { result.details.first { $0.key == key }?.value.arrayValue ?? [] }
        // Floats written in their shortest text read back exactly.
        let merged = values("merged_singular_values").compactMap { $0.doubleValue.map(Float.init) }
        #expect(merged == result.factors!.s && merged.count == 5)
        let spectra = values("source_singular_values").map {
            $0.arrayValue?.compactMap { $0.doubleValue.map(Float.init) } ?? []
        }
        for (spectrum, source) in zip(spectra, sources) {
            let exact = try SingularValueDecomposition(Matrix(rows: m, columns: n, elements: source)).singularValues
            #expect(spectrum == Array(exact.prefix(5)))
        }
    }

    @Test("K from a fraction rounds half up; non-matrix tensors get the mean task vector")
    func rankAndMean() throws {
        #expect(MergeMath.rank(count: nil, fraction: 0.1, rows: 768, columns: 3072) == 77)  // 76.8
        #expect(MergeMath.rank(count: nil, fraction: 0.1, rows: 765, columns: 800) == 77)  // 76.5 rounds up
        #expect(MergeMath.rank(count: 76, fraction: nil, rows: 8, columns: 8) == 76)
        let bias = TensorMergeInput(
            name: "b", shape: [3], base: [1, 1, 1], sources: [[2, 3, 4], [0, 1, 2]], sourceIndices: [0, 1],
            isMergedMatrix: false, seed: 0)
        #expect(try AXISMerge(count: 2).merge(bias).merged == [1, 2, 3])
    }
}
