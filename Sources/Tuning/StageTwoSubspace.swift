import AmalgamCore
import LinearAlgebra

/// Where Stage 2's trained singular directions come from: the merge's factors (AXIS Stage 2,
/// "X + Stage 2"), the base's own top singular directions (`Base+S2`), or random orthonormal
/// ones (`Random+S2`): the baselines that tell what a merge's subspace is worth.
public enum StageTwoSubspace: String, Sendable, CaseIterable {
    case merge, base, random

    /// Rank-N factors `U`, `S = 0`, `V` for every matrix SVD merges work on (see
    /// `LayerPosition.isMergedMatrix`) of `graph`: `base` takes its top N singular vectors,
    /// `random` a seeded orthonormal basis (QR of a Gaussian matrix). With `S = 0` the model
    /// starts at `graph`'s own weights. N comes from `count` per matrix.
    public func factors(for graph: ModelGraph, count: SingularValueCount, seed: UInt64) throws -> FactorSet {
        precondition(self != .merge, "the merge's own factors are read, not made")
        var set = FactorSet()
        for tensor in graph.tensors where LayerPosition.isMergedMatrix(tensor) {
            let (m, n) = (tensor.shape.dimensions[0], tensor.shape.dimensions[1])
            let rank = min(max(count.resolve(rows: m, columns: n), 1), min(m, n))
            let u: [Float]
            let v: [Float]
            switch self {
            case .base:
                let svd = try SingularValueDecomposition(
                    Matrix(rows: m, columns: n, elements: try tensor.floatValues()))
                u = (0..<m).flatMap { row in (0..<rank).map { svd.u.elements[row * svd.u.columns + $0] } }
                v = (0..<n).flatMap { column in (0..<rank).map { svd.vt.elements[$0 * n + column] } }
            default:
                var random = SeededRandom(seed: seed, stream: tensor.name)
                u = try Self.orthonormal(rows: m, columns: rank, &random)
                v = try Self.orthonormal(rows: n, columns: rank, &random)
            }
            set.add(
                FactorSet.Factors(rows: m, columns: n, u: u, s: [Float](repeating: 0, count: rank), v: v),
                for: tensor.name)
        }
        return set
    }

    /// A `rows x columns` matrix with orthonormal columns: Q of a seeded Gaussian matrix.
    static func orthonormal(rows: Int, columns: Int, _ random: inout SeededRandom) throws -> [Float] {
        let gaussian = Matrix(
            rows: rows, columns: columns, elements: (0..<(rows * columns)).map { _ in Float(random.nextGaussian()) })
        return try QRDecomposition(gaussian).q.elements
    }
}
