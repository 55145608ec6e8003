import AmalgamCore
import LinearAlgebra

/// TSV-M (Task Singular Vectors, CVPR 2025): each source keeps its top `min(m, n) / T`
/// components; the concatenated `U` and `V` columns are each replaced by their nearest
/// orthogonal matrix (`P Q^T` from an SVD) and the update rebuilt as `U⊥ diag(S) V⊥^T`.
public struct TSVMerge: MergeMethod {
    public let exactSVD: Bool
    public init(exactSVD: Bool = false) { self.exactSVD = exactSVD }
    public var name: String { "tsv" }
    public var settings: [(key: String, value: JSONValue)] { [("exact_svd", .bool(exactSVD))] }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        guard input.isMergedMatrix, input.shape.rank == 2, !input.taskVectors.isEmpty else {
            return TensorMergeResult(merged: MergeMath.meanTaskVector(input))
        }
        let m = input.rows
        let n = input.columns
        let t = input.taskVectors.count
        let k = max(1, min(m, n) / t)
        var uColumns = Matrix(zeros: m, k * t)
        var vColumns = Matrix(zeros: n, k * t)
        var values: [Float] = []
        for (position, delta) in input.taskVectors.enumerated() {
            let matrix = Matrix(rows: m, columns: n, elements: delta)
            let svd =
                exactSVD
                ? try SingularValueDecomposition(matrix).truncated(to: k)
                : try RandomizedSVD.truncated(
                    matrix, rank: k, seed: input.seed &+ UInt64(input.sourceIndices[position]))
            for j in 0..<svd.singularValues.count {
                for i in 0..<m { uColumns[i, position * k + j] = svd.u[i, j] }
                for i in 0..<n { vColumns[i, position * k + j] = svd.vt[j, i] }
            }
            values += svd.singularValues + [Float](repeating: 0, count: k - svd.singularValues.count)
        }
        let update = try BLAS.multiply(
            try Self.nearestOrthogonal(uColumns).scalingColumns(by: values), try Self.nearestOrthogonal(vColumns),
            transposeB: true)
        return TensorMergeResult(
            merged: zip(input.base, update.elements).map { $0 + $1 }, details: [("components_per_source", .integer(k))])
    }

    /// `P Q^T` where `X = P Σ Q^T`: the orthogonal matrix closest to `X` in Frobenius norm.
    static func nearestOrthogonal(_ x: Matrix) throws(AmalgamError) -> Matrix {
        let svd = try SingularValueDecomposition(x)
        return try BLAS.multiply(svd.u, svd.vt)
    }
}
