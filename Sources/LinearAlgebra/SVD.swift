import AmalgamCore
import COpenBLAS

/// A thin singular value decomposition `A = U diag(S) Vt` of an `m x n` matrix with
/// `k = min(m, n)`: `U` is `m x k`, `S` has `k` values in descending order, `Vt` is `k x n`.
public struct SingularValueDecomposition: Sendable {
    public let u: Matrix
    public let singularValues: [Float]
    public let vt: Matrix

    /// Wraps factors computed elsewhere. - Precondition: shapes agree.
    public init(u: Matrix, singularValues: [Float], vt: Matrix) {
        precondition(u.columns == singularValues.count && vt.rows == singularValues.count, "SVD factor shapes disagree")
        self.u = u
        self.singularValues = singularValues
        self.vt = vt
    }

    /// Computes the thin SVD with LAPACK's divide-and-conquer `sgesdd` (never `sgesvd`,
    /// which is about 9x slower here). Cost: O(m n min(m, n)).
    ///
    /// - Throws: `.invalidFormat` if `a` holds NaN or infinity; `.internal` when LAPACK
    ///   reports failure (`info != 0`: the iteration did not converge).
    public init(_ a: Matrix) throws(AmalgamError) {
        let m = a.rows
        let n = a.columns
        let k = min(a.rows, a.columns)
        guard FiniteCheck.firstNonFinite(a.elements) == nil else {
            throw AmalgamError(.invalidFormat, "matrix holds NaN or infinity; cannot take its SVD")
        }
        if k == 0 {
            u = Matrix(zeros: m, 0)
            singularValues = []
            vt = Matrix(zeros: 0, n)
            return
        }
        var work = a.elements  // sgesdd destroys its input
        var s = [Float](repeating: 0, count: k)
        var uElements = [Float](repeating: 0, count: m * k)
        var vtElements = [Float](repeating: 0, count: k * n)
        let info = work.withUnsafeMutableBufferPointer { pa in
            s.withUnsafeMutableBufferPointer { ps in
                uElements.withUnsafeMutableBufferPointer { pu in
                    vtElements.withUnsafeMutableBufferPointer { pvt in
                        LAPACKE_sgesdd(
                            LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), Int32(m), Int32(n), pa.baseAddress, Int32(n),
                            ps.baseAddress, pu.baseAddress, Int32(k), pvt.baseAddress, Int32(n))
                    }
                }
            }
        }
        guard info == 0 else {
            throw AmalgamError(
                .internal,
                info > 0 ? "SVD did not converge (sgesdd info \(info))" : "invalid argument \(-info) to sgesdd")
        }
        u = Matrix(rows: m, columns: k, elements: uElements)
        singularValues = s
        vt = Matrix(rows: k, columns: n, elements: vtElements)
    }

    /// `U diag(S) Vt` rebuilt densely (for tests and small matrices).
    public func reconstructed() throws(AmalgamError) -> Matrix {
        try BLAS.multiply(u.scalingColumns(by: singularValues), vt)
    }
}
