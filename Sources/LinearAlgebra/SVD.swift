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
    /// LAPACK works on column-major arrays: `a` is transposed into one here and `sgesdd`
    /// called on it directly, the same call LAPACKE's row-major wrapper makes (so the same
    /// bits), without that wrapper's second copy of `a` nor its row-major copies of `U` and
    /// `Vt` held beside their column-major ones: memory `2 m n + (m + n) k` floats plus
    /// LAPACK's workspace, against `3 m n + 2 (m + n) k` through the wrapper.
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
        var s = [Float](repeating: 0, count: k)
        // Column-major: A is m x n (leading dimension m), U m x k (m), Vt k x n (k).
        var uColumns = [Float](repeating: 0, count: m * k)
        var vtColumns = [Float](repeating: 0, count: k * n)
        var info: Int32 = 0
        do {
            var columnMajor = a.transposed.elements  // sgesdd destroys it
            var iwork = [Int32](repeating: 0, count: 8 * k)
            func call(_ work: UnsafeMutablePointer<Float>, _ lwork: Int32) -> Int32 {
                columnMajor.withUnsafeMutableBufferPointer { pa in
                    s.withUnsafeMutableBufferPointer { ps in
                        uColumns.withUnsafeMutableBufferPointer { pu in
                            vtColumns.withUnsafeMutableBufferPointer { pvt in
                                iwork.withUnsafeMutableBufferPointer { pi in
                                    LAPACKE_sgesdd_work(
                                        LAPACK_COL_MAJOR, CChar(UInt8(ascii: "S")), Int32(m), Int32(n),
                                        pa.baseAddress, Int32(m), ps.baseAddress, pu.baseAddress, Int32(m),
                                        pvt.baseAddress, Int32(k), work, lwork, pi.baseAddress)
                                }
                            }
                        }
                    }
                }
            }
            var query: Float = 0
            info = call(&query, -1)
            if info == 0 {
                var work = [Float](repeating: 0, count: max(1, Int(query)))
                info = work.withUnsafeMutableBufferPointer { call($0.baseAddress!, Int32($0.count)) }
            }
        }
        guard info == 0 else {
            throw AmalgamError(
                .internal,
                info > 0 ? "SVD did not converge (sgesdd info \(info))" : "invalid argument \(-info) to sgesdd")
        }
        u = Matrix(rows: k, columns: m, elements: uColumns).transposed
        uColumns = []
        singularValues = s
        vt = Matrix(rows: n, columns: k, elements: vtColumns).transposed
    }

    /// `U diag(S) Vt` rebuilt densely (for tests and small matrices).
    public func reconstructed() throws(AmalgamError) -> Matrix {
        try BLAS.multiply(u.scalingColumns(by: singularValues), vt)
    }
}
