import AmalgamCore

/// Seeded randomized truncated SVD (Halko, Martinsson & Tropp): a Gaussian range finder
/// with oversampling, power iterations re-orthonormalised by QR after every product, and an
/// exact SVD of the small projected matrix.
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
        let m = a.rows
        let n = a.columns
        let limit = min(m, n)
        let k = max(0, min(rank, limit))
        let samples = k + oversampling
        if samples >= limit {
            return try SingularValueDecomposition(a).truncated(to: k)
        }
        guard a.elements.allSatisfy(\.isFinite) else {
            throw AmalgamError(.invalidFormat, "matrix holds NaN or infinity; cannot take its SVD")
        }
        var random = SeededRandom(seed: seed)
        let omega = Matrix(
            rows: n, columns: samples, elements: (0..<(n * samples)).map { _ in Float(random.nextGaussian()) })
        var q = try QRDecomposition(try BLAS.multiply(a, omega)).q  // m x l
        for _ in 0..<powerIterations {
            let z = try QRDecomposition(try BLAS.multiply(a, transposeA: true, q)).q  // n x l
            q = try QRDecomposition(try BLAS.multiply(a, z)).q  // m x l
        }
        let b = try BLAS.multiply(q, transposeA: true, a)  // l x n
        let small = try SingularValueDecomposition(b)
        let u = try BLAS.multiply(q, small.u)  // m x l
        return SingularValueDecomposition(u: u, singularValues: small.singularValues, vt: small.vt).truncated(to: k)
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
