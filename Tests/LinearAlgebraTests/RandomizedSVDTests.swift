import AmalgamCore
import Foundation
import Testing

@testable import LinearAlgebra

/// A random `m x n` matrix with prescribed singular values (random orthonormal factors).
func matrix(rows m: Int, columns n: Int, singularValues: [Float], seed: UInt64) throws -> Matrix {
    var random = SeededRandom(seed: seed)
    let k = singularValues.count
    let gaussian = { (r: Int, c: Int) in
        Matrix(rows: r, columns: c, elements: (0..<(r * c)).map { _ in Float(random.nextGaussian()) })
    }
    let u = try QRDecomposition(gaussian(m, k)).q
    let v = try QRDecomposition(gaussian(n, k)).q
    var scaled = u
    for i in 0..<m { for j in 0..<k { scaled[i, j] *= singularValues[j] } }
    return try BLAS.multiply(scaled, v, transposeB: true)
}

struct RandomizedSVDTests {
    /// Largest relative error of the top `k` singular values, and the relative Frobenius
    /// error of the rank-k reconstruction against the optimal (exact) rank-k error.
    static func errors(_ a: Matrix, k: Int, seed: UInt64 = 1) throws -> (values: Double, excess: Double) {
        let exact = try SingularValueDecomposition(a).truncated(to: k)
        let fast = try RandomizedSVD.truncated(a, rank: k, seed: seed)
        let valueError = zip(exact.singularValues, fast.singularValues).map { Double(abs($0 - $1) / $0) }.max() ?? 0
        let residual = { (svd: SingularValueDecomposition) throws -> Double in
            let rebuilt = try svd.reconstructed()
            return zip(rebuilt.elements, a.elements).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
                .squareRoot()
        }
        let optimal = try residual(exact)
        return (valueError, (try residual(fast) - optimal) / a.frobeniusNorm)
    }

    @Test("decaying spectrum: top-k values and reconstruction match the exact SVD")
    func decaying() throws {
        let spectrum = (0..<200).map { Float(pow(0.9, Double($0))) }
        let a = try matrix(rows: 300, columns: 200, singularValues: spectrum, seed: 2)
        let (values, excess) = try Self.errors(a, k: 32)
        print(
            "randomized SVD, decaying spectrum 0.9^i, 300x200, k=32: value error \(values), excess reconstruction error \(excess)"
        )
        #expect(values < 1e-4, "relative error of the top 32 values: \(values)")
        #expect(excess < 1e-4, "excess reconstruction error: \(excess)")
    }

    @Test("flat spectrum: values within 10%, reconstruction within 5% of optimal")
    func flat() throws {
        let spectrum = (0..<200).map { 1 - Float($0) / 400 }  // 1.0 down to 0.5
        let a = try matrix(rows: 300, columns: 200, singularValues: spectrum, seed: 3)
        let (values, excess) = try Self.errors(a, k: 32)
        print(
            "randomized SVD, flat spectrum 1.0..0.5, 300x200, k=32: value error \(values), excess reconstruction error \(excess)"
        )
        // Measured: 7.4% on the trailing values; the leading ones are far better.
        #expect(values < 0.1, "relative error of the top 32 values: \(values)")
        #expect(excess < 0.05, "excess reconstruction error: \(excess)")
    }

    @Test("low rank plus noise: the signal triples are recovered; ranks near min(m, n) fall back to exact")
    func lowRankPlusNoise() throws {
        let spectrum = [Float](arrayLiteral: 10, 8, 6, 5, 4, 3) + [Float](repeating: 0.01, count: 94)
        let a = try matrix(rows: 128, columns: 100, singularValues: spectrum, seed: 4)
        let fast = try RandomizedSVD.truncated(a, rank: 6, seed: 9)
        for (x, y) in zip(fast.singularValues, spectrum) { #expect(abs(x - y) / y < 1e-3) }
        let fallback = try RandomizedSVD.truncated(a, rank: 95)
        let exact = try SingularValueDecomposition(a)
        #expect(fallback.singularValues == Array(exact.singularValues.prefix(95)))
        #expect(try RandomizedSVD.truncated(a, rank: 6, seed: 9).singularValues == fast.singularValues)  // seeded
    }
}

struct SpectrumBoundsTests {
    static let spectra: [(name: String, values: [Float])] = [
        ("decaying 0.9^i", (0..<200).map { Float(pow(0.9, Double($0))) }),
        ("flat 1.0..0.5", (0..<200).map { 1 - Float($0) / 400 }),
        ("rank 6 plus noise", [10, 8, 6, 5, 4, 3] + [Float](repeating: 0.01, count: 194)),
    ]

    @Test("the true singular values lie within the sketch's bounds, up to one past the triples kept", arguments: 0..<3)
    func boundsHold(spectrum index: Int) throws {
        let (name, spectrum) = Self.spectra[index]
        let a = try matrix(rows: 300, columns: 200, singularValues: spectrum, seed: UInt64(30 + index))
        let exact = try SingularValueDecomposition(a).singularValues
        let k = 32
        let (decomposition, bounds) = try RandomizedSVD.certified(a, rank: k, seed: 5)
        #expect(decomposition.singularValues.count == k && bounds.values.count == k + 1 && !bounds.isExact)
        for j in 0...k {
            #expect(bounds.lower(j) <= exact[j] && exact[j] <= bounds.upper(j), "\(name) σ\(j): \(exact[j])")
        }
    }

    @Test("the residual bound is above ‖A − QQᵀA‖₂ and within 2x of it", arguments: 0..<3)
    func residualBound(spectrum index: Int) throws {
        let (name, spectrum) = Self.spectra[index]
        let a = try matrix(rows: 300, columns: 200, singularValues: spectrum, seed: UInt64(40 + index))
        var random = SeededRandom(seed: 6)
        let omega = Matrix(rows: a.columns, columns: 42, elements: random.gaussianFloats(a.columns * 42))
        let q = try RandomizedSVD.rangeBasis(a, omega: omega, powerIterations: 0)
        let z = try QRDecomposition.orthonormalColumns(try BLAS.multiply(a, transposeA: true, q))
        // R = A (I − Z Zᵀ), as Rᵀ = (I − Z Zᵀ) Aᵀ.
        let residual = try RandomizedSVD.projectedOut(a.transposed, z)
        let actual = try SingularValueDecomposition(residual).singularValues[0]
        let bound = try RandomizedSVD.residualNormBound(a, rowBasis: z, seed: 6)
        #expect(bound >= actual && bound <= 2 * actual, "\(name): bound \(bound), ‖R‖₂ \(actual)")
    }

    /// Tall and wide (both Gram sides), on the three spectra: the values lie within their bounds
    /// of `sgesdd`'s, agree with them to 1e-6 σ₁, and each triple satisfies `A v = σ u` with unit `u`.
    @Test(
        "the f64 Gram eigenpairs give the top triples, within their bounds",
        arguments: [(0, false), (1, true), (2, false), (0, true)])
    func gramLeading(spectrum index: Int, wide: Bool) throws {
        let (name, spectrum) = Self.spectra[index]
        let tall = try matrix(rows: 300, columns: 200, singularValues: spectrum, seed: UInt64(60 + index))
        let a = wide ? tall.transposed : tall
        let k = 20
        let (leading, bounds) = try SingularValueDecomposition.leading(a, count: k + 1)
        let exact = try SingularValueDecomposition(a).singularValues
        #expect(bounds.kind == .gram && leading.singularValues.count == k + 1 && leading.u.rows == a.rows)
        let top = exact[0]
        let av = try BLAS.multiply(a, leading.vt, transposeB: true)  // m x (k + 1)
        for j in 0...k {
            let value = leading.singularValues[j]
            #expect(bounds.lower(j) <= exact[j] && exact[j] <= bounds.upper(j), "\(name) σ\(j): \(exact[j])")
            #expect(abs(value - exact[j]) <= 1e-6 * top, "\(name) σ\(j): \(value) vs \(exact[j])")
            var residual = 0.0
            var norm = 0.0
            for i in 0..<a.rows {
                residual += Double(av[i, j] - value * leading.u[i, j]) * Double(av[i, j] - value * leading.u[i, j])
                norm += Double(leading.u[i, j]) * Double(leading.u[i, j])
            }
            #expect(residual.squareRoot() <= 1e-4 * Double(top) && abs(norm - 1) < 1e-5, "\(name) triple \(j)")
        }
        #expect(throws: AmalgamError.self) {
            try SingularValueDecomposition.leading(Matrix(rows: 1, columns: 2, elements: [1, .nan]), count: 1)
        }
    }

    /// 40000 x 64: the f64 Gram matrix is summed over three blocks of rows (or columns).
    @Test("the Gram matrix summed block by block gives sgesdd's values", arguments: [false, true])
    func gramBlocks(wide: Bool) throws {
        let tall = LinearAlgebraTests.random(40000, 64, seed: 9)
        let a = wide ? tall.transposed : tall
        #expect(40000 > SingularValueDecomposition.gramBlockBytes / (8 * 64) * 2)
        let (leading, _) = try SingularValueDecomposition.leading(a, count: 10)
        let exact = try SingularValueDecomposition(a).singularValues
        for j in 0..<10 { #expect(abs(leading.singularValues[j] - exact[j]) <= 1e-6 * exact[0], "σ\(j)") }
    }

    @Test("a sketch as large as the matrix is the exact SVD, with exact bounds")
    func exactFallback() throws {
        let a = try matrix(rows: 40, columns: 30, singularValues: (0..<30).map { Float(30 - $0) }, seed: 7)
        let (decomposition, bounds) = try RandomizedSVD.certified(a, rank: 25, seed: 1)
        let exact = try SingularValueDecomposition(a)
        #expect(decomposition.singularValues == Array(exact.singularValues.prefix(25)))
        #expect(bounds == .exact(Array(exact.singularValues.prefix(26))))
    }
}
