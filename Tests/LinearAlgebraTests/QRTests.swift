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
