import AmalgamCore
import COpenBLAS

/// Thin wrappers over OpenBLAS. Everything is row-major f32.
public enum BLAS {
    /// Sets how many threads OpenBLAS may use (the merge executor budgets cores).
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The kernel OpenBLAS selected at load time (`Prescott`, `SkylakeX`...).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// `C = alpha * op(A) * op(B) + beta * C`, where `op` transposes when asked.
    ///
    /// - Throws: `.mismatch` when the shapes do not agree.
    public static func gemm(
        _ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false,
        alpha: Float = 1, beta: Float = 0, into c: inout Matrix
    ) throws(AmalgamError) {
        let m = transposeA ? a.columns : a.rows
        let k = transposeA ? a.rows : a.columns
        let kB = transposeB ? b.columns : b.rows
        let n = transposeB ? b.rows : b.columns
        guard k == kB, c.rows == m, c.columns == n else {
            throw AmalgamError(
                .mismatch, "gemm shapes do not agree: \(m)x\(k) times \(kB)x\(n) into \(c.rows)x\(c.columns)")
        }
        if m == 0 || n == 0 { return }
        if k == 0 {
            for i in c.elements.indices { c.elements[i] *= beta }
            return
        }
        a.elements.withUnsafeBufferPointer { pa in
            b.elements.withUnsafeBufferPointer { pb in
                c.elements.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(
                        CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, pa.baseAddress, Int32(a.columns),
                        pb.baseAddress, Int32(b.columns), beta, pc.baseAddress, Int32(c.columns))
                }
            }
        }
    }

    /// `C = alpha * op(A) * op(B) + beta * C` on row-major blocks inside larger buffers:
    /// `op(A)` is `m x k`, `op(B)` is `k x n`, `C` is `m x n`, and each row starts `leading`
    /// elements after the previous one (a head's columns inside a `[tokens, width]` matrix).
    ///
    /// - Precondition: the pointers cover the blocks their shapes and leading dimensions imply.
    public static func gemm(
        m: Int, n: Int, k: Int, alpha: Float = 1,
        _ a: UnsafePointer<Float>, leading lda: Int, transposeA: Bool = false,
        _ b: UnsafePointer<Float>, leading ldb: Int, transposeB: Bool = false,
        beta: Float = 0, into c: UnsafeMutablePointer<Float>, leading ldc: Int
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `op(A) * op(B)` as a new matrix.
    public static func multiply(_ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false)
        throws(AmalgamError) -> Matrix
    {
        var c = Matrix(zeros: transposeA ? a.columns : a.rows, transposeB ? b.rows : b.columns)
        try gemm(a, transposeA: transposeA, b, transposeB: transposeB, into: &c)
        return c
    }
}
