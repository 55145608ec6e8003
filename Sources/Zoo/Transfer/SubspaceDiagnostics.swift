import AmalgamCore
import LinearAlgebra
import Tuning

/// What a Stage 2 run trains in, measured against the sources and the target's own
/// fine-tune (which no run sees), averaged over the merged matrices. For each matrix with
/// factors `U diag(s) Vᵀ` whose top `N` train (`U_N`, `V_N`):
/// - source energy: `‖U_Nᵀ Di V_N‖²_F / ‖Di‖²_F`, the share of source i's task vector the
///   trained subspace pair holds (mean, least and most over sources);
/// - target energy: the same for the target's own task vector `Dt`;
/// - target overlap (left, right): `‖U_Nᵀ Ut‖²_F / N`, the mean squared cosine of the
///   principal angles between `span U_N` and the span of `Dt`'s top-N left singular vectors
///   (1: the same subspace; `N / m` expected of a random one), and the same for `V`;
/// - remainder share: `‖R‖²_F / ‖U diag(s) Vᵀ‖²_F` for the frozen `R = Σ_{j ≥ N} sⱼ uⱼ vⱼᵀ`;
/// - remainder alignment: `⟨R, Dt⟩ / (‖R‖_F ‖Dt‖_F)` (0 without a remainder), how much the
///   frozen part already points the target's way.
struct SubspaceDiagnostics: Sendable {
    var sourceEnergy = 0.0
    var leastSourceEnergy = 0.0
    var mostSourceEnergy = 0.0
    var targetEnergy = 0.0
    var leftOverlap = 0.0
    var rightOverlap = 0.0
    var remainderShare = 0.0
    var remainderAlignment = 0.0

    static let keys = [
        "source_energy_in_trained", "least_source_energy_in_trained", "most_source_energy_in_trained",
        "target_energy_in_trained", "target_left_overlap", "target_right_overlap", "remainder_energy_share",
        "remainder_target_cosine",
    ]

    var values: [Double] {
        [
            sourceEnergy, leastSourceEnergy, mostSourceEnergy, targetEnergy, leftOverlap, rightOverlap, remainderShare,
            remainderAlignment,
        ]
    }

    /// The measures of `factors` trained at `counts` (per matrix), against `sources` and the
    /// target's own fine-tune, each task vector taken against `base`.
    init(
        factors: FactorSet, counts: [String: Int], base: ModelGraph, sources: [ModelGraph], target: ModelGraph
    ) throws {
        var perMatrix: [[Double]] = []
        var perSource = [[Double]](repeating: [], count: sources.count)
        for (name, matrix) in factors.matrices {
            guard let w0 = base[name], target[name] != nil else { continue }
            let (m, n, rank) = (matrix.rows, matrix.columns, matrix.rank)
            let trained = min(counts[name] ?? rank, rank)
            guard trained > 0 else { continue }
            let baseValues = try w0.floatValues()
            func taskVector(_ graph: ModelGraph) throws -> Matrix? {
                guard let tensor = graph[name] else { return nil }
                return Matrix(
                    rows: m, columns: n, elements: zip(try tensor.floatValues(), baseValues).map { $0 - $1 })
            }
            let allU = Matrix(rows: m, columns: rank, elements: matrix.u)
            let allV = Matrix(rows: n, columns: rank, elements: matrix.v)
            let u = allU.columns(0..<trained)
            let v = allV.columns(0..<trained)
            func energyInTrained(_ delta: Matrix) throws -> Double {
                let total = SumOfSquares.of(delta.elements)
                guard total > 0 else { return 0 }
                let core = try BLAS.multiply(try BLAS.multiply(u, transposeA: true, delta), v)
                return SumOfSquares.of(core.elements) / total
            }
            for (position, source) in sources.enumerated() {
                if let delta = try taskVector(source) { perSource[position].append(try energyInTrained(delta)) }
            }
            guard let dt = try taskVector(target) else { continue }
            let targetSVD = try SingularValueDecomposition(dt)
            let ut = targetSVD.u.columns(0..<trained)
            let vt = targetSVD.vt.transposed.columns(0..<trained)
            let left = SumOfSquares.of(try BLAS.multiply(u, transposeA: true, ut).elements) / Double(trained)
            let right = SumOfSquares.of(try BLAS.multiply(v, transposeA: true, vt).elements) / Double(trained)
            var share = 0.0
            var alignment = 0.0
            if trained < rank {
                let rest = trained..<rank
                let remainder = try BLAS.multiply(
                    allU.columns(rest).scalingColumns(by: Array(matrix.s[rest])), allV.columns(rest), transposeB: true)
                let whole = try BLAS.multiply(allU.scalingColumns(by: matrix.s), allV, transposeB: true)
                let remainderNorm = SumOfSquares.of(remainder.elements)
                let wholeNorm = SumOfSquares.of(whole.elements)
                share = wholeNorm > 0 ? remainderNorm / wholeNorm : 0
                let dot = zip(remainder.elements, dt.elements).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let targetNorm = SumOfSquares.of(dt.elements)
                alignment = remainderNorm > 0 && targetNorm > 0 ? dot / (remainderNorm * targetNorm).squareRoot() : 0
            }
            perMatrix.append([try energyInTrained(dt), left, right, share, alignment])
        }
        guard !perMatrix.isEmpty else { return }
        func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
        let sourceMeans = perSource.filter { !$0.isEmpty }.map(mean)
        sourceEnergy = mean(sourceMeans)
        leastSourceEnergy = sourceMeans.min() ?? 0
        mostSourceEnergy = sourceMeans.max() ?? 0
        targetEnergy = mean(perMatrix.map { $0[0] })
        leftOverlap = mean(perMatrix.map { $0[1] })
        rightOverlap = mean(perMatrix.map { $0[2] })
        remainderShare = mean(perMatrix.map { $0[3] })
        remainderAlignment = mean(perMatrix.map { $0[4] })
    }

    init?(json: JSONValue?) {
        guard let json else { return nil }
        var values: [Double] = []
        for key in Self.keys {
            guard let value = json[key]?.doubleValue else { return nil }
            values.append(value)
        }
        (sourceEnergy, leastSourceEnergy, mostSourceEnergy, targetEnergy) = (values[0], values[1], values[2], values[3])
        (leftOverlap, rightOverlap, remainderShare, remainderAlignment) = (values[4], values[5], values[6], values[7])
    }

    var json: JSONValue {
        .object(zip(Self.keys, values).map { ($0, .number(ZooManifest.decimal($1))) })
    }
}
