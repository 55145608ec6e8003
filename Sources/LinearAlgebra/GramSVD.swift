import AmalgamCore
import COpenBLAS

extension SingularValueDecomposition {
    /// The top `count` singular triples of `a` from the eigenvectors of its Gram matrix (`Aᵀ A`
    /// or `A Aᵀ`, whichever is smaller), formed and decomposed in f64 (`dsyrk`, then the top
    /// `count` eigenpairs only: `topEigenpairs`), with bounds on the true values.
    ///
    /// The f64 Gram matrix's rounding is `‖ΔG‖₂ ≤ γ_p ‖A‖_F²` (`p` the inner length) and
    /// the eigensolver's backward error is a small multiple of `d ε ‖G‖₂` (`d` its order), so each
    /// `σⱼ²` is known to within `e = 4 (p + d) ε ‖A‖_F²` (`ε = 2⁻⁵³`), far below f32's
    /// rounding of an SVD: the bounds are `SpectrumBounds.gram` with that `e`. The other side's
    /// vectors are `A v / ‖A v‖` (or `Aᵀ u / ‖Aᵀ u‖`) in f32; a zero one stays zero.
    ///
    /// Cost: `p d²` f64 flops for `G` plus its tridiagonalisation (`4 d³ / 3`), against
    /// `sgesdd`'s full bidiagonalisation and back-transformations; 1.7x (576²) to 5.5x
    /// (4096²) faster in LAPACK here for the top 10 %.
    ///
    /// Memory: the `d x d` f64 Gram matrix and f64 copies of `a` a block at a time.
    ///
    /// - Throws: `.invalidFormat` when `a` holds NaN or infinity; `.internal` when LAPACK
    ///   reports failure.
    public static func leading(_ a: Matrix, count: Int) throws(AmalgamError) -> (
        decomposition: SingularValueDecomposition, bounds: SpectrumBounds
    ) {
        guard FiniteCheck.firstNonFinite(a.elements) == nil else {
            throw AmalgamError(.invalidFormat, "matrix holds NaN or infinity; cannot take its SVD")
        }
        let (m, n) = (a.rows, a.columns)
        let tall = m >= n  // G = Aᵀ A (n x n); otherwise A Aᵀ (m x m)
        let d = min(m, n)
        let inner = max(m, n)
        let c = min(count, d)
        if c == 0 {
            return (
                SingularValueDecomposition(u: Matrix(zeros: m, 0), singularValues: [], vt: Matrix(zeros: 0, n)),
                .exact([])
            )
        }
        let formed = gramMatrix(a)
        var gram = formed.gram
        let squaredNorm = formed.squaredNorm
        let (values, side) = try topEigenpairs(&gram, order: d, count: c)
        // The other side: A v (tall) or Aᵀ u (wide), each column scaled to norm one.
        var other = tall ? try BLAS.multiply(a, side) : try BLAS.multiply(a, transposeA: true, side)
        for j in 0..<c {
            var squared = 0.0
            for i in 0..<other.rows { squared += Double(other[i, j]) * Double(other[i, j]) }
            let scale: Float = squared > 0 ? Float(1 / squared.squareRoot()) : 0
            for i in 0..<other.rows { other[i, j] *= scale }
        }
        let error = 4 * Double(inner + d) * Double.ulpOfOne / 2 * squaredNorm
        let decomposition =
            tall
            ? SingularValueDecomposition(u: other, singularValues: values, vt: side.transposed)
            : SingularValueDecomposition(u: side, singularValues: values, vt: other.transposed)
        return (decomposition, .gram(values, squaredError: Float(error)))
    }

    /// The `count` largest eigenvalues of the symmetric `order x order` matrix whose lower
    /// triangle `gram` holds row-major (its upper triangle column-major), as f32 square roots
    /// (negative rounding read as 0), largest first, with their eigenvectors as the columns of
    /// an `order x count` f32 matrix. `gram` is overwritten.
    ///
    /// `dsytrd` on the upper triangle, column-major (OpenBLAS's `dsymv_U`: `dsymv_L` took 5x
    /// as long here), then MRRR (`dstemr`) on the top `count` pairs, then `dormtr` on those
    /// vectors only. Called from row-major `LAPACKE_dsyevr`, the same work went through a
    /// transposed copy of the matrix and of the vectors, and found the vectors by inverse
    /// iteration (`dstein`).
    static func topEigenpairs(_ gram: inout [Double], order d: Int, count c: Int) throws(AmalgamError) -> (
        values: [Float], vectors: Matrix
    ) {
        var diagonal = [Double](repeating: 0, count: d)
        var offDiagonal = [Double](repeating: 0, count: d)  // d − 1 used; dstemr needs d
        var reflectors = [Double](repeating: 0, count: max(d - 1, 1))
        var eigenvalues = [Double](repeating: 0, count: d)
        var vectors = [Double](repeating: 0, count: d * c)  // column-major d x c, ascending
        var support = [Int32](repeating: 0, count: 2 * c)
        var found: Int32 = 0
        var relativeAccuracy: Int32 = 1
        let upper = CChar(UInt8(ascii: "U"))
        let reduced = gram.withUnsafeMutableBufferPointer { pg in
            LAPACKE_dsytrd(
                LAPACK_COL_MAJOR, upper, Int32(d), pg.baseAddress, Int32(d), &diagonal, &offDiagonal, &reflectors)
        }
        guard reduced == 0 else {
            throw AmalgamError(.internal, "tridiagonal reduction failed (dsytrd info \(reduced))")
        }
        let solved = LAPACKE_dstemr(
            LAPACK_COL_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "I")), Int32(d), &diagonal, &offDiagonal, 0,
            0, Int32(d - c + 1), Int32(d), &found, &eigenvalues, &vectors, Int32(d), Int32(c), &support,
            &relativeAccuracy)
        guard solved == 0, found == Int32(c) else {
            throw AmalgamError(
                .internal,
                solved != 0
                    ? "eigen-decomposition did not converge (dstemr info \(solved))"
                    : "dstemr gave \(found) of \(c) eigenpairs")
        }
        let transformed = gram.withUnsafeMutableBufferPointer { pg in
            LAPACKE_dormtr(
                LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), upper, CChar(UInt8(ascii: "N")), Int32(d), Int32(c),
                pg.baseAddress, Int32(d), &reflectors, &vectors, Int32(d))
        }
        guard transformed == 0 else {
            throw AmalgamError(.internal, "back-transformation failed (dormtr info \(transformed))")
        }
        // Largest first: column c − 1 − j of `vectors` is the j-th pair's vector.
        var values = [Float](repeating: 0, count: c)
        var side = Matrix(zeros: d, c)
        for j in 0..<c {
            values[j] = Float(max(0, eigenvalues[c - 1 - j]).squareRoot())
            for i in 0..<d { side[i, j] = Float(vectors[(c - 1 - j) * d + i]) }
        }
        return (values, side)
    }

    /// `Aᵀ A` (tall `a`) or `A Aᵀ` (wide) in f64, lower triangle (row-major), with `‖A‖_F²`: `dsyrk` summed
    /// over blocks of rows (tall) or columns (wide) of about `gramBlockBytes` converted to f64,
    /// so no f64 copy of the whole matrix exists.
    static func gramMatrix(_ a: Matrix) -> (gram: [Double], squaredNorm: Double) {
        let (m, n) = (a.rows, a.columns)
        let tall = m >= n
        let d = min(m, n)
        let inner = max(m, n)
        let step = max(1, gramBlockBytes / (8 * d))  // rows (tall) or columns (wide) per block
        var gram = [Double](repeating: 0, count: d * d)
        var block = [Double](repeating: 0, count: step * d)
        var squaredNorm = 0.0
        a.elements.withUnsafeBufferPointer { pa in
            for first in stride(from: 0, to: inner, by: step) {
                let count = min(step, inner - first)
                // Row-major `count x d` (tall: rows of A) or `d x count` (wide: columns of A).
                let (rows, columns) = tall ? (count, d) : (d, count)
                block.withUnsafeMutableBufferPointer { pb in
                    for i in 0..<rows {
                        let source = tall ? (first + i) * n : i * n + first
                        for j in 0..<columns {
                            let value = Double(pa[source + j])
                            pb[i * columns + j] = value
                            squaredNorm += value * value
                        }
                    }
                }
                block.withUnsafeBufferPointer { pb in
                    gram.withUnsafeMutableBufferPointer { pg in
                        cblas_dsyrk(
                            CblasRowMajor, CblasLower, tall ? CblasTrans : CblasNoTrans, Int32(d), Int32(count), 1,
                            pb.baseAddress, Int32(tall ? d : count), 1, pg.baseAddress, Int32(d))
                    }
                }
            }
        }
        return (gram, squaredNorm)
    }

    /// The f64 bytes of one block `gramMatrix` converts at a time.
    static let gramBlockBytes = 8 << 20
}
