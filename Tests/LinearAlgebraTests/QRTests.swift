import AmalgamCore
import Foundation
import Testing

@testable import LinearAlgebra

struct QRTests {
    @Test("Q has orthonormal columns, R is upper triangular, QR = A", arguments: [(30, 12), (12, 30), (1, 1)])
    func qr(rows: Int, columns: Int) throws {
        var random = SeededRandom(seed: 7)
        let a = Matrix(
            rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in random.nextSignedUnitFloat() })
        let qr = try QRDecomposition(a)
        let k = min(rows, columns)
        #expect(qr.q.rows == rows && qr.q.columns == k && qr.r.rows == k && qr.r.columns == columns)
        let rebuilt = try BLAS.multiply(qr.q, qr.r)
        for (x, y) in zip(rebuilt.elements, a.elements) { #expect(abs(x - y) < 1e-5) }
        for i in 0..<k { for j in 0..<min(i, columns) { #expect(qr.r[i, j] == 0) } }
        let gram = try BLAS.multiply(qr.q, transposeA: true, qr.q)
        for i in 0..<k { for j in 0..<k { #expect(abs(gram[i, j] - (i == j ? 1 : 0)) < 1e-5) } }
    }
}

struct OrthonormalColumnsTests {
    /// Largest entry of `QᵀQ − I`, and the largest residual of projecting `y` onto `Q`, relative
    /// to `y`'s largest entry.
    static func quality(_ q: Matrix, of y: Matrix) throws -> (orthogonality: Float, span: Float) {
        let gram = try BLAS.multiply(q, transposeA: true, q)
        var orthogonality: Float = 0
        for i in 0..<gram.rows {
            for j in 0..<gram.columns { orthogonality = max(orthogonality, abs(gram[i, j] - (i == j ? 1 : 0))) }
        }
        let projected = try BLAS.multiply(q, try BLAS.multiply(q, transposeA: true, y))
        let scale = y.elements.map(abs).max() ?? 1
        let span = zip(projected.elements, y.elements).map { abs($0 - $1) }.max() ?? 0
        return (orthogonality, span / scale)
    }

    @Test(
        "Cholesky QR twice: orthonormal columns spanning y, for well and badly conditioned y",
        arguments: [(300, 40, Float(1)), (300, 40, 1e-3), (64, 64, 1e-2)])
    func choleskyQR(rows m: Int, columns l: Int, smallest: Float) throws {
        // Column scales from 1 down to `smallest`: condition numbers 1 .. 1000.
        var random = SeededRandom(seed: 21)
        var y = Matrix(rows: m, columns: l, elements: (0..<(m * l)).map { _ in Float(random.nextGaussian()) })
        for i in 0..<m {
            for j in 0..<l { y[i, j] *= pow(smallest, Float(j) / Float(max(1, l - 1))) }
        }
        let (orthogonality, span) = try Self.quality(try QRDecomposition.orthonormalColumns(y), of: y)
        #expect(orthogonality < 1e-5, "QᵀQ − I: \(orthogonality)")
        #expect(span < 1e-5, "Q Qᵀ y − y: \(span)")
    }

    @Test("rank-deficient y falls back to Householder, whose Q is still orthonormal")
    func rankDeficient() throws {
        var random = SeededRandom(seed: 22)
        var y = Matrix(rows: 50, columns: 8, elements: (0..<400).map { _ in Float(random.nextGaussian()) })
        for i in 0..<50 { y[i, 7] = y[i, 0] }  // two equal columns: the Gram matrix is singular
        let q = try QRDecomposition.orthonormalColumns(y)
        #expect(q.elements == (try QRDecomposition(y)).q.elements)
        #expect(try Self.quality(q, of: y).orthogonality < 1e-5)
    }
}
