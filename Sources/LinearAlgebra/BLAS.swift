import AmalgamCore
import COpenBLAS

/// Thin wrappers over OpenBLAS. Everything is row-major f32.
public enum BLAS {
    /// Sets how many threads OpenBLAS itself may use: LAPACK's calls (SVD, QR) follow it;
    /// `gemm` cuts its work into fixed pieces of one thread each whatever it is set to.
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
        // Fixed pieces of C, each one single-threaded sgemm, run on the process's threads: a
        // multi-threaded sgemm sums in an order that depends on its thread count, and results
        // must not. The cut depends on the shapes only.
        let pieceRows = Self.pieceRows(m)
        let rowBlocks = (m + pieceRows - 1) / pieceRows
        let columnBlocks = (n + pieceColumns - 1) / pieceColumns
        let (lda, ldb, ldc) = (a.columns, b.columns, c.columns)
        a.elements.withUnsafeBufferPointer { pa in
            b.elements.withUnsafeBufferPointer { pb in
                c.elements.withUnsafeMutableBufferPointer { pc in
                    nonisolated(unsafe) let (baseA, baseB, baseC) = (pa.baseAddress!, pb.baseAddress!, pc.baseAddress!)
                    let work = { @Sendable (piece: Int) in
                        let row = (piece / columnBlocks) * pieceRows
                        let column = (piece % columnBlocks) * pieceColumns
                        let rows = min(pieceRows, m - row)
                        let columns = min(pieceColumns, n - column)
                        // op(A)'s rows start `row` rows down A, or `row` columns into Aᵀ; op(B)'s
                        // columns likewise.
                        let pieceA = baseA + (transposeA ? row : row * lda)
                        let pieceB = baseB + (transposeB ? column * ldb : column)
                        cblas_sgemm(
                            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                            transposeB ? CblasTrans : CblasNoTrans, Int32(rows), Int32(columns), Int32(k), alpha,
                            pieceA, Int32(lda), pieceB, Int32(ldb), beta, baseC + row * ldc + column, Int32(ldc))
                    }
                    let pieces = rowBlocks * columnBlocks
                    if pieces == 1 || 2 * m * n * k < parallelFlops {
                        for piece in 0..<pieces { work(piece) }
                    } else {
                        Parallelism.current.forEach(pieces, work)
                    }
                }
            }
        }
    }

    /// The blocks of C that `gemm` computes one sgemm call each: 128 columns, and rows in at
    /// most 16 blocks of a multiple of 64 rows. Every block packs its whole slice of op(B)
    /// again, so a skinny product (a sketch's `11008 x 86` over k = 4096) cut into 64-row
    /// blocks spent as long packing op(B) 172 times as multiplying.
    static func pieceRows(_ m: Int) -> Int {
        let rows = (m + maximumRowBlocks - 1) / maximumRowBlocks
        return max(64, (rows + 63) / 64 * 64)
    }
    static let maximumRowBlocks = 16
    static let pieceColumns = 128
    /// Below this many flops the pieces run on the calling thread.
    static let parallelFlops = 1 << 22

    /// `Aᵀ (A W)` in one pass over `a`: each cache-sized block of rows `A_b` gives `A_b W` and
    /// adds `A_bᵀ (A_b W)` while it is still in cache, where two products would read `a` from
    /// memory twice. Worth it for skinny `w` (a few probe vectors), where both products are
    /// bound by memory traffic, not arithmetic.
    ///
    /// The rows are cut as `gemm` cuts them (by shape only, at most 16 groups); each group sums
    /// on one thread and the groups are added in order, so the result does not depend on the
    /// thread count.
    ///
    /// - Throws: `.mismatch` when `w` has not one row per column of `a`.
    /// - Complexity: `4 m n p` flops for `a` of `m x n` and `w` of `n x p`; `a` read once.
    public static func gramProduct(_ a: Matrix, _ w: Matrix) throws(AmalgamError) -> Matrix {
        guard w.rows == a.columns else {
            throw AmalgamError(.mismatch, "Gram product of a \(a.rows)x\(a.columns) matrix with \(w.rows)x\(w.columns)")
        }
        let (m, n, p) = (a.rows, a.columns, w.columns)
        var result = Matrix(zeros: n, p)
        if m == 0 || n == 0 || p == 0 { return result }
        let groupRows = pieceRows(m)
        let groups = (m + groupRows - 1) / groupRows
        let blockRows = max(8, min(groupRows, gramBlockBytes / (4 * n)))
        var partials = [Float](repeating: 0, count: groups * n * p)
        a.elements.withUnsafeBufferPointer { pa in
            w.elements.withUnsafeBufferPointer { pw in
                partials.withUnsafeMutableBufferPointer { pp in
                    nonisolated(unsafe) let (baseA, baseW, baseP) = (pa.baseAddress!, pw.baseAddress!, pp.baseAddress!)
                    let work = { @Sendable (group: Int) in
                        var x = [Float](repeating: 0, count: blockRows * p)
                        let end = min(m, (group + 1) * groupRows)
                        x.withUnsafeMutableBufferPointer { px in
                            for first in stride(from: group * groupRows, to: end, by: blockRows) {
                                let rows = Int32(min(blockRows, end - first))
                                let block = baseA + first * n
                                cblas_sgemm(
                                    CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, Int32(p), Int32(n), 1, block,
                                    Int32(n), baseW, Int32(p), 0, px.baseAddress!, Int32(p))
                                cblas_sgemm(
                                    CblasRowMajor, CblasTrans, CblasNoTrans, Int32(n), Int32(p), rows, 1, block,
                                    Int32(n), px.baseAddress!, Int32(p), 1, baseP + group * n * p, Int32(p))
                            }
                        }
                    }
                    if groups == 1 || 4 * m * n * p < parallelFlops {
                        for group in 0..<groups { work(group) }
                    } else {
                        Parallelism.current.forEach(groups, work)
                    }
                }
            }
        }
        for group in 0..<groups {
            for i in 0..<(n * p) { result.elements[i] += partials[group * n * p + i] }
        }
        return result
    }
    /// The rows of `a` one block of `gramProduct` holds: about half an L2 cache.
    static let gramBlockBytes = 1 << 19

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
        try gemm(a, transposeA: transposeA, b, transposeB: transposeB, beta: onZeros, into: &c)
        return c
    }

    /// The `beta` for a product written into memory that is already zero: 1, which adds to
    /// it, instead of 0, which has OpenBLAS zero `C` a second time first (its beta pass was
    /// 5% of a training step). Same bits: OpenBLAS adds every product block to `C` either way.
    public static let onZeros: Float = 1
}
