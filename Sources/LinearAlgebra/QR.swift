import AmalgamCore
import COpenBLAS

/// A thin Householder QR factorisation `A = Q R` of an `m x n` matrix with
/// `k = min(m, n)`: `Q` is `m x k` with orthonormal columns, `R` is `k x n` upper
/// trapezoidal. Computed with LAPACK `sgeqrf` + `sorgqr`. Cost: O(m n k).
public struct QRDecomposition: Sendable {
    public let q: Matrix
    public let r: Matrix

    /// - Throws: `.internal` when LAPACK reports an invalid argument (`info < 0`).
    public init(_ a: Matrix) throws(AmalgamError) {
        let m = a.rows
        let n = a.columns
        let k = min(m, n)
        if k == 0 {
            q = Matrix(zeros: m, 0)
            r = Matrix(zeros: 0, n)
            return
        }
        var work = a.elements
        var tau = [Float](repeating: 0, count: k)
        var info = work.withUnsafeMutableBufferPointer { pa in
            tau.withUnsafeMutableBufferPointer { pt in
                LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, Int32(m), Int32(n), pa.baseAddress, Int32(n), pt.baseAddress)
            }
        }
        guard info == 0 else { throw AmalgamError(.internal, "sgeqrf failed (info \(info))") }
        // R: the upper triangle of the first k rows.
        var rElements = [Float](repeating: 0, count: k * n)
        for i in 0..<k {
            for j in i..<n { rElements[i * n + j] = work[i * n + j] }
        }
        // Q: the first k columns, rebuilt from the reflectors (in an m x k copy).
        var qElements = [Float](repeating: 0, count: m * k)
        for i in 0..<m {
            for j in 0..<k { qElements[i * k + j] = work[i * n + j] }
        }
        info = qElements.withUnsafeMutableBufferPointer { pq in
            tau.withUnsafeMutableBufferPointer { pt in
                LAPACKE_sorgqr(LAPACK_ROW_MAJOR, Int32(m), Int32(k), Int32(k), pq.baseAddress, Int32(k), pt.baseAddress)
            }
        }
        guard info == 0 else { throw AmalgamError(.internal, "sorgqr failed (info \(info))") }
        q = Matrix(rows: m, columns: k, elements: qElements)
        r = Matrix(rows: k, columns: n, elements: rElements)
    }
}
