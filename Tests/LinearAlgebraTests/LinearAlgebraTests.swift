import AmalgamCore
import COpenBLAS
import Testing

@testable import LinearAlgebra

struct LinearAlgebraTests {
    static func random(_ rows: Int, _ columns: Int, seed: UInt64) -> Matrix {
        var generator = SeededRandom(seed: seed)
        return Matrix(
            rows: rows, columns: columns, elements: (0..<rows * columns).map { _ in generator.nextSignedUnitFloat() })
    }

    /// Straightforward triple loop in f64.
    static func naiveProduct(_ a: Matrix, _ b: Matrix) -> Matrix {
        var c = Matrix(zeros: a.rows, b.columns)
        for i in 0..<a.rows {
            for j in 0..<b.columns {
                var sum = 0.0
                for k in 0..<a.columns { sum += Double(a[i, k]) * Double(b[k, j]) }
                c[i, j] = Float(sum)
            }
        }
        return c
    }

    @Test(
        "gemm agrees with a naive product, with and without transposes",
        arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemm(transposeA: Bool, transposeB: Bool) throws {
        let a = Self.random(17, 23, seed: 1)
        let b = Self.random(23, 11, seed: 2)
        let product = try BLAS.multiply(
            transposeA ? a.transposed : a, transposeA: transposeA, transposeB ? b.transposed : b, transposeB: transposeB
        )
        let reference = Self.naiveProduct(a, b)
        for (x, y) in zip(product.elements, reference.elements) { #expect(abs(x - y) < 1e-5) }
        #expect(throws: AmalgamError.self) { try BLAS.multiply(a, a) }
    }

    /// Shapes that give one row group, several groups of one block, and groups of several blocks
    /// (5000 columns: 26-row blocks in 64-row groups) with a last, short one.
    @Test("the one-pass Gram product equals Aᵀ (A W) in f64", arguments: [(7, 13, 3), (300, 200, 10), (150, 5000, 4)])
    func gramProduct(rows: Int, columns: Int, probes: Int) throws {
        let a = Self.random(rows, columns, seed: 4)
        let w = Self.random(columns, probes, seed: 5)
        let product = try BLAS.gramProduct(a, w)
        let reference = Self.naiveProduct(a.transposed, Self.naiveProduct(a, w))
        #expect(product.rows == columns && product.columns == probes)
        let scale = reference.elements.map(abs).max() ?? 1
        for (x, y) in zip(product.elements, reference.elements) { #expect(abs(x - y) <= 1e-5 * scale) }
        #expect(throws: AmalgamError.self) { try BLAS.gramProduct(a, a) }
    }

    @Test(
        "thin SVD reconstructs the matrix with orthonormal factors and sorted values",
        arguments: [(40, 25), (25, 40), (1, 7)])
    func svd(rows: Int, columns: Int) throws {
        let a = Self.random(rows, columns, seed: 3)
        let svd = try SingularValueDecomposition(a)
        let k = min(rows, columns)
        #expect(svd.u.columns == k && svd.vt.rows == k && svd.singularValues.count == k)
        #expect(zip(svd.singularValues, svd.singularValues.dropFirst()).allSatisfy { $0 >= $1 })
        let rebuilt = try svd.reconstructed()
        for (x, y) in zip(rebuilt.elements, a.elements) { #expect(abs(x - y) < 1e-5) }
        let gram = try BLAS.multiply(svd.u, transposeA: true, svd.u)
        for i in 0..<k { for j in 0..<k { #expect(abs(gram[i, j] - (i == j ? 1 : 0)) < 1e-5) } }
    }

    /// The SVD calls `sgesdd` on a column-major copy it makes itself; LAPACKE's row-major
    /// wrapper (what numpy's and the earlier code's results come from) must give the same bits.
    @Test(
        "the thin SVD is bit for bit LAPACKE's row-major sgesdd", arguments: [(300, 70), (70, 300), (129, 129), (1, 5)])
    func svdMatchesRowMajorLAPACKE(rows: Int, columns: Int) throws {
        let a = Self.random(rows, columns, seed: 9)
        let svd = try SingularValueDecomposition(a)
        let k = min(rows, columns)
        var work = a.elements
        var s = [Float](repeating: 0, count: k)
        var u = [Float](repeating: 0, count: rows * k)
        var vt = [Float](repeating: 0, count: k * columns)
        let info = LAPACKE_sgesdd(
            LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), Int32(rows), Int32(columns), &work, Int32(columns), &s, &u,
            Int32(k), &vt, Int32(columns))
        #expect(info == 0)
        #expect(svd.singularValues.map(\.bitPattern) == s.map(\.bitPattern))
        #expect(svd.u.elements.map(\.bitPattern) == u.map(\.bitPattern))
        #expect(svd.vt.elements.map(\.bitPattern) == vt.map(\.bitPattern))
    }

    @Test("known singular values; NaN input is an error")
    func known() throws {
        let diagonal = Matrix(rows: 3, columns: 3, elements: [0, 0, 2, 0, -5, 0, 1, 0, 0])
        #expect(try SingularValueDecomposition(diagonal).singularValues == [5, 2, 1])
        #expect(throws: AmalgamError.self) {
            try SingularValueDecomposition(Matrix(rows: 1, columns: 2, elements: [1, .nan]))
        }
    }
}
