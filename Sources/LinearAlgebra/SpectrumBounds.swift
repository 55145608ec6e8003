import AmalgamCore

/// Where a matrix's true singular values `σⱼ` lie, from a sketch `A ≈ Q B` (`B = Qᵀ A`) whose
/// Ritz values `σ̃ⱼ` (the singular values of `B`) are known and whose residual `R = A − Q B`
/// has `‖R‖₂ ≤ r`:
///
///     σ̃ⱼ ≤ σⱼ ≤ √(σ̃ⱼ² + r²)
///
/// The left side is interlacing (`Qᵀ A` is a projection of `A`); the right side is Weyl's
/// inequality on `Aᵀ A = Bᵀ B + Rᵀ R` (`Qᵀ R = 0`): `λⱼ(Aᵀ A) ≤ λⱼ(Bᵀ B) + ‖R‖₂²`. Both sides
/// are widened by `margin` for f32 rounding. With `r = 0` (an exact SVD) the bounds are the
/// values themselves, within the margin. The Gram path's values carry an error `e` on each
/// square instead: `√(σ̃ⱼ² − e) ≤ σⱼ ≤ √(σ̃ⱼ² + e)`, widened by the same margin.
public struct SpectrumBounds: Sendable, Equatable {
    /// Where the values come from, cheapest first: a refinement moves a source one step on.
    public enum Kind: Sendable, Equatable {
        /// Ritz values of a randomized sketch, with a residual bound.
        case sketch
        /// The f64 Gram matrix's eigenvalues (`SingularValueDecomposition.leading`), within a
        /// known error of the true squares.
        case gram
        /// `sgesdd`'s values.
        case exact
    }

    /// The leading Ritz (or exact) values, descending; indices past the end are zero.
    public let values: [Float]
    /// The bound `r` on the residual's spectral norm; 0 for an exact SVD.
    public let residual: Float
    /// A bound `e` on the error of each `σⱼ²` (the Gram path's rounding); 0 otherwise.
    public let squaredError: Float
    public let kind: Kind
    /// The rounding allowance on either side: `10⁻⁵ σ̃₁`, well above f32 SVD's backward error.
    public let margin: Float

    /// True when `values` are the exact SVD's.
    public var isExact: Bool { kind == .exact }

    public init(values: [Float], residual: Float, isExact: Bool) {
        self.init(values: values, residual: residual, squaredError: 0, kind: isExact ? .exact : .sketch)
    }

    init(values: [Float], residual: Float, squaredError: Float, kind: Kind) {
        self.values = values
        self.residual = residual
        self.squaredError = squaredError
        self.kind = kind
        self.margin = 1e-5 * (values.first ?? 0)
    }

    /// Exact singular values (from `sgesdd`).
    public static func exact(_ values: [Float]) -> SpectrumBounds {
        SpectrumBounds(values: values, residual: 0, isExact: true)
    }

    /// Values whose squares are within `squaredError` of the true ones.
    public static func gram(_ values: [Float], squaredError: Float) -> SpectrumBounds {
        SpectrumBounds(values: values, residual: 0, squaredError: squaredError, kind: .gram)
    }

    /// A value `σⱼ` is at least this.
    public func lower(_ j: Int) -> Float {
        guard j < values.count else { return 0 }
        let value = values[j]
        let low = squaredError > 0 ? max(0, value * value - squaredError).squareRoot() : value
        return max(0, low - margin)
    }

    /// A value `σⱼ` is at most this.
    public func upper(_ j: Int) -> Float {
        let value = j < values.count ? values[j] : 0
        return (value * value + residual * residual + squaredError).squareRoot() + margin
    }
}

extension RandomizedSVD {
    /// The top `rank` triples of `a` from a sketch, with bounds on its true singular values up
    /// to index `rank` (one past the triples kept), holding with probability at least
    /// `1 − 10^-probes`. Where a sketch would be as large as the matrix the exact SVD is taken
    /// (exact bounds).
    ///
    /// The sketch ends on the row side: `Q` spans `(A Aᵀ)^q A Ω`, `Z = orth(Aᵀ Q)` (`n x l`), and
    /// the triples are the SVD of `A Z`, so `A ≈ (A Z) Zᵀ` with residual `R = A (I − Z Zᵀ)`,
    /// bounded by `residualNormBound(a, rowBasis: Z)`. With `q = 0` that is 3 passes over `a`
    /// (the column-side Rayleigh–Ritz of `truncated` needs 4 for the same subspace power); the
    /// bounds follow from `A Aᵀ = (A Z)(A Z)ᵀ + R Rᵀ` as in `SpectrumBounds`.
    public static func certified(
        _ a: Matrix, rank: Int, oversampling: Int = 10, powerIterations: Int = 0, probes: Int = 10,
        seed: UInt64 = 0
    ) throws(AmalgamError) -> (decomposition: SingularValueDecomposition, bounds: SpectrumBounds) {
        let m = a.rows
        let n = a.columns
        let k = max(0, min(rank, min(m, n)))
        let samples = k + oversampling
        if samples >= min(m, n) {
            let exact = try SingularValueDecomposition(a)
            return (exact.truncated(to: k), .exact(Array(exact.singularValues.prefix(k + 1))))
        }
        var random = SeededRandom(seed: seed)
        let omega = Matrix(rows: n, columns: samples, elements: random.gaussianFloats(n * samples))
        let q = try rangeBasis(a, omega: omega, powerIterations: powerIterations)  // m x l
        let z = try QRDecomposition.orthonormalColumns(try BLAS.multiply(a, transposeA: true, q))  // n x l
        let y = try BLAS.multiply(a, z)  // m x l: A restricted to span(Z)
        // The SVD of the tall Y through an orthonormal basis P of its columns: Y = P (Pᵀ Y).
        let p = try QRDecomposition.orthonormalColumns(y)
        let core = try SingularValueDecomposition(try BLAS.multiply(p, transposeA: true, y))  // l x l
        let u = try BLAS.multiply(p, core.u)  // m x l
        let vt = try BLAS.multiply(core.vt, z, transposeB: true)  // l x n: (Z W)ᵀ
        let decomposition = SingularValueDecomposition(u: u, singularValues: core.singularValues, vt: vt)
        let residual = try residualNormBound(a, rowBasis: z, probes: probes, seed: seed)
        return (
            decomposition.truncated(to: k),
            SpectrumBounds(values: Array(core.singularValues.prefix(k + 1)), residual: residual, isExact: false)
        )
    }
}
