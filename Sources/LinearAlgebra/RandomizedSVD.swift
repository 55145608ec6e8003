import AmalgamCore

/// Seeded randomized truncated SVD (Halko, Martinsson & Tropp): a Gaussian range finder
/// with oversampling, power iterations re-orthonormalised (Cholesky QR twice, Householder
/// where that is unsafe) after every product, and an exact SVD of the small projected matrix.
///
/// Cost: O(m n (k + p) (2 q + 2)) for `k` triples, `p` oversampling, `q` power iterations,
/// against O(m n min(m, n)) for the full SVD. Accurate when the spectrum decays; on flat
/// spectra the trailing triples are approximate (see the tests for measured errors).
public enum RandomizedSVD {
    /// The top `rank` singular triples of `a`.
    ///
    /// Falls back to the exact `sgesdd` (then truncates) when `rank + oversampling` reaches
    /// `min(m, n)`, where sampling would save nothing.
    public static func truncated(
        _ a: Matrix, rank: Int, oversampling: Int = 10, powerIterations: Int = 2, seed: UInt64 = 0
    ) throws(AmalgamError) -> SingularValueDecomposition {
        let k = max(0, min(rank, min(a.rows, a.columns)))
        let samples = k + oversampling
        if samples >= min(a.rows, a.columns) {
            return try SingularValueDecomposition(a).truncated(to: k)
        }
        var random = SeededRandom(seed: seed)
        let omega = Matrix(
            rows: a.columns, columns: samples,
            elements: (0..<(a.columns * samples)).map { _ in Float(random.nextGaussian()) })
        let q = try rangeBasis(a, omega: omega, powerIterations: powerIterations)
        let b = try BLAS.multiply(q, transposeA: true, a)  // l x n
        let small = try wideSVD(b)
        let u = try BLAS.multiply(q, small.u)  // m x l
        return SingularValueDecomposition(u: u, singularValues: small.singularValues, vt: small.vt).truncated(to: k)
    }

    /// The range finder both sketches share: an orthonormal basis `Q` (m x l) of
    /// `(A Aᵀ)^q A Ω`, re-orthonormalised after every product.
    ///
    /// - Throws: `.invalidFormat` when `a` holds NaN or infinity.
    static func rangeBasis(_ a: Matrix, omega: Matrix, powerIterations: Int) throws(AmalgamError) -> Matrix {
        guard FiniteCheck.firstNonFinite(a.elements) == nil else {
            throw AmalgamError(.invalidFormat, "matrix holds NaN or infinity; cannot take its SVD")
        }
        var q = try QRDecomposition.orthonormalColumns(try BLAS.multiply(a, omega))  // m x l
        for _ in 0..<powerIterations {
            let z = try QRDecomposition.orthonormalColumns(try BLAS.multiply(a, transposeA: true, q))  // n x l
            q = try QRDecomposition.orthonormalColumns(try BLAS.multiply(a, z))  // m x l
        }
        return q
    }

    /// The SVD of a wide `l x n` matrix (`l <= n`) through an orthonormal basis `P` of its
    /// rows: `B = (B P) Pᵀ`, so the SVD `U S Wᵀ` of the `l x l` matrix `B P` gives `B = U S (P W)ᵀ`.
    /// All but the `l x l` SVD are matrix products, where `sgesdd` on `B` spends most of its
    /// time in unblocked LQ steps.
    static func wideSVD(_ b: Matrix) throws(AmalgamError) -> SingularValueDecomposition {
        guard b.rows > 0, b.rows < b.columns else { return try SingularValueDecomposition(b) }
        let rowBasis = try QRDecomposition.orthonormalColumns(b.transposed)  // n x l
        let core = try SingularValueDecomposition(try BLAS.multiply(b, rowBasis))  // l x l
        let vt = try BLAS.multiply(core.vt, rowBasis, transposeB: true)  // l x n
        return SingularValueDecomposition(u: core.u, singularValues: core.singularValues, vt: vt)
    }

    /// A probabilistic upper bound on `‖R‖₂`, `R = A (I − Z Zᵀ)`, the part of `a` outside the
    /// row space spanned by the columns of `rowBasis` (`n x l`, orthonormal):
    /// `(α √(2/π) maxᵢ ‖(Rᵀ R)^q ωᵢ‖)^(1/(2q))` over `probes` seeded Gaussian vectors `ωᵢ`, with
    /// `α = 10`. Halko, Martinsson & Tropp's Lemma 4.1 (`‖B‖ ≤ α √(2/π) maxᵢ ‖B ωᵢ‖` for any `B`,
    /// failing with probability at most `α^-probes`), applied to the symmetric `(Rᵀ R)^q`, whose
    /// norm is `‖R‖₂^(2q)`, makes it fail with probability at most `10^-probes`; the power steps
    /// bring it within a factor `(10 √(2/π))^(1/(2q))` (1.30 for q = 4) of `‖R‖₂` on a decaying
    /// residual.
    ///
    /// Cost: `q` passes over `a`, each one `BLAS.gramProduct` (`Aᵀ A` applied to `probes`
    /// columns with every block of `a` read once), plus projections.
    public static func residualNormBound(
        _ a: Matrix, rowBasis: Matrix, probes: Int = 10, powerIterations: Int = 4, seed: UInt64 = 0
    ) throws(AmalgamError) -> Float {
        precondition(rowBasis.rows == a.columns, "row basis of \(rowBasis.rows) rows for \(a.columns) columns")
        guard probes > 0, powerIterations > 0, a.rows > 0, a.columns > 0 else { return 0 }
        var random = SeededRandom(seed: seed ^ 0x5EED_B0D0_0000_0001)
        var w = Matrix(rows: a.columns, columns: probes, elements: random.gaussianFloats(a.columns * probes))
        // Each probe is scaled back to norm one after every step; the logarithms of the scales
        // add up to log ‖(Rᵀ R)^q ωᵢ‖ without overflow or underflow.
        var logNorms = [Double](repeating: 0, count: probes)
        for _ in 0..<powerIterations {
            // Rᵀ R w = P Aᵀ A P w, with P = I − Z Zᵀ.
            w = try projectedOut(try BLAS.gramProduct(a, try projectedOut(w, rowBasis)), rowBasis)
            normaliseColumns(&w, addingLogNormsTo: &logNorms)
        }
        let largest = logNorms.max() ?? -Double.infinity
        guard largest.isFinite else { return 0 }
        let factor = 10 * (2 / Double.pi).squareRoot()
        return Float(exp((log(factor) + largest) / Double(2 * powerIterations)))
    }

    /// `x − Q (Qᵀ x)`.
    static func projectedOut(_ x: Matrix, _ basis: Matrix) throws(AmalgamError) -> Matrix {
        guard basis.columns > 0 else { return x }
        var result = x
        let coefficients = try BLAS.multiply(basis, transposeA: true, x)
        try BLAS.gemm(basis, coefficients, alpha: -1, beta: 1, into: &result)
        return result
    }

    /// Scales each column to norm one (zero columns stay zero, adding −∞).
    static func normaliseColumns(_ x: inout Matrix, addingLogNormsTo logs: inout [Double]) {
        for j in 0..<x.columns {
            var squared = 0.0
            for i in 0..<x.rows { squared += Double(x[i, j]) * Double(x[i, j]) }
            let norm = squared.squareRoot()
            logs[j] += log(norm)
            guard norm > 0 else { continue }
            let scale = Float(1 / norm)
            for i in 0..<x.rows { x[i, j] *= scale }
        }
    }
}

extension SingularValueDecomposition {
    /// The leading `k` triples.
    public func truncated(to k: Int) -> SingularValueDecomposition {
        let k = min(k, singularValues.count)
        if k == singularValues.count { return self }
        var uElements = [Float](repeating: 0, count: u.rows * k)
        for i in 0..<u.rows {
            for j in 0..<k { uElements[i * k + j] = u[i, j] }
        }
        return SingularValueDecomposition(
            u: Matrix(rows: u.rows, columns: k, elements: uElements), singularValues: Array(singularValues.prefix(k)),
            vt: Matrix(rows: k, columns: vt.columns, elements: Array(vt.elements.prefix(k * vt.columns))))
    }
}

#if canImport(Glibc)
    import Glibc
#endif
