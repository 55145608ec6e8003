import AmalgamCore
import LinearAlgebra

/// A task vector held as factors, `D = B A` (`B` is m x r, `A` is r x n): a LoRA adapter's
/// update with its scale folded into `B`. Methods that work on singular components take it
/// as it is and never build the m x n matrix; the others get `dense()`.
public struct FactoredTaskVector: Sendable {
    public let b: Matrix
    public let a: Matrix

    /// - Precondition: `b.columns == a.rows`.
    public init(b: Matrix, a: Matrix) {
        precondition(
            b.columns == a.rows, "factor shapes disagree: B is \(b.rows)x\(b.columns), A is \(a.rows)x\(a.columns)")
        self.b = b
        self.a = a
    }

    public var rows: Int { b.rows }
    public var columns: Int { a.columns }
    public var rank: Int { a.rows }

    /// True when every factor entry is finite (so is every entry of `B A`).
    public var isFinite: Bool { b.elements.allSatisfy(\.isFinite) && a.elements.allSatisfy(\.isFinite) }

    /// `‖B A‖²_F = Σ (BᵀB) ∘ (A Aᵀ)`, accumulated in f64. Cost O((m + n) r²).
    public var squaredNorm: Double {
        get throws(AmalgamError) {
            guard rank > 0 else { return 0 }
            let gramB = try BLAS.multiply(b, transposeA: true, b)  // r x r
            let gramA = try BLAS.multiply(a, a, transposeB: true)  // r x r
            var total = 0.0
            for i in gramB.elements.indices { total += Double(gramB.elements[i]) * Double(gramA.elements[i]) }
            return max(0, total)
        }
    }

    /// `B A` as an m x n row-major array (for the methods that work entry by entry).
    public func dense() throws(AmalgamError) -> [Float] {
        guard rank > 0 else { return [Float](repeating: 0, count: rows * columns) }
        return try BLAS.multiply(b, a).elements
    }

    /// The thin SVD of `B A`, exactly and without the m x n product: `B = Qb Rb`, `Aᵀ = Qa Ra`,
    /// `Rb Raᵀ = Uc S Vcᵀ` (r x r), so `B A = (Qb Uc) S (Qa Vc)ᵀ`. Truncated to `k` triples and to
    /// the nonzero ones. Cost O((m + n) r²).
    public func singularValueDecomposition(truncatedTo k: Int) throws(AmalgamError) -> SingularValueDecomposition {
        guard rank > 0, k > 0 else {
            return SingularValueDecomposition(
                u: Matrix(zeros: rows, 0), singularValues: [], vt: Matrix(zeros: 0, columns))
        }
        let qb = try QRDecomposition(b)
        let qa = try QRDecomposition(a.transposed)
        let core = try SingularValueDecomposition(try BLAS.multiply(qb.r, qa.r, transposeB: true))
        let u = try BLAS.multiply(qb.q, core.u)  // m x r'
        let vt = try BLAS.multiply(core.vt, qa.q, transposeB: true)  // r' x n
        let nonzero = core.singularValues.prefix { $0 > 0 }.count
        return SingularValueDecomposition(u: u, singularValues: core.singularValues, vt: vt).truncated(
            to: min(k, nonzero))
    }
}
