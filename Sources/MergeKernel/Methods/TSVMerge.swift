import AmalgamCore
import LinearAlgebra

/// TSV-M (Task Singular Vectors, CVPR 2025): each source keeps its top `min(m, n) / T`
/// components; the concatenated `U` and `V` columns are each replaced by their nearest
/// orthogonal matrix (`P Q^T` from an SVD) and the update rebuilt as `U⊥ diag(S) V⊥^T`.
/// A quantised source's components at or below its noise edge are left out.
public struct TSVMerge: MergeMethod {
    public let exactSVD: Bool
    public init(exactSVD: Bool = false) { self.exactSVD = exactSVD }
    public var name: String { "tsv" }
    public var takesFactoredTaskVectors: Bool { true }
    public var settings: [(key: String, value: JSONValue)] { [("exact_svd", .bool(exactSVD))] }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        guard input.isMergedMatrix, input.shape.rank == 2, !input.taskVectors.isEmpty else {
            return TensorMergeResult(merged: MergeMath.meanTaskVector(input))
        }
        let update = try orthogonalUpdate(input)
        let product = try BLAS.multiply(update.u.scalingColumns(by: update.s), update.v, transposeB: true)
        var details: [(key: String, value: JSONValue)] = [
            ("components_per_source", .integer(update.perSource)),
            ("source_singular_values", .array(update.sourceValues.map { .numbers($0) })),
            // U⊥ and V⊥ have orthonormal columns, so the update's singular values are these.
            ("merged_singular_values", .numbers(update.s.filter { $0 > 0 }.sorted(by: >))),
        ]
        if input.noiseFloor != .off, !input.noise.isEmpty {
            details.append(("components_below_noise_floor", .array(update.belowFloor.map { .integer($0) })))
        }
        return TensorMergeResult(merged: zip(input.base, product.elements).map { $0 + $1 }, details: details)
    }

    /// TSV-M's update of a merged matrix as `U⊥ diag(s) V⊥ᵀ` (`U⊥`, `V⊥` with orthonormal
    /// columns, `s` in source order), with each source's count per source, its values and the
    /// components left below its noise floor.
    func orthogonalUpdate(_ input: TensorMergeInput) throws -> (
        u: Matrix, s: [Float], v: Matrix, perSource: Int, sourceValues: [[Float]], belowFloor: [Int]
    ) {
        let m = input.rows
        let n = input.columns
        let t = input.taskVectors.count
        let k = max(1, min(m, n) / t)
        var decompositions: [SingularValueDecomposition] = []
        var kept: [Int] = []
        var belowFloor: [Int] = []
        for (position, delta) in input.taskVectors.enumerated() {
            let svd: SingularValueDecomposition
            if let factored = input.factored(position) {
                svd = try factored.singularValueDecomposition(truncatedTo: k)  // exact, from the factors
            } else if let reduced = input.reduced(position) {
                svd = reduced.decomposition
            } else {
                svd = try decompose(
                    Matrix(rows: m, columns: n, elements: delta), k: k,
                    seed: input.seed &+ UInt64(input.sourceIndices[position]))
            }
            // A quantised source's components at or below its noise edge are left out.
            let floor = input.singularValueFloor(position) ?? -1
            // Components of (numerically) zero weight carry nothing, and their directions are
            // arbitrary: a rank-deficient task vector (a LoRA's, dense or factored) keeps its rank.
            let zero = (svd.singularValues.first ?? 0) * Float(max(m, n)) * Float.ulpOfOne
            let count = svd.singularValues.prefix { $0 > max(floor, zero) }.count
            decompositions.append(svd)
            kept.append(count)
            belowFloor.append(svd.singularValues.prefix { $0 > zero }.count - count)
        }
        let columns = max(1, kept.reduce(0, +))
        var uColumns = Matrix(zeros: m, columns)
        var vColumns = Matrix(zeros: n, columns)
        var values = [Float](repeating: 0, count: columns)
        var column = 0
        for (svd, count) in zip(decompositions, kept) {
            for j in 0..<count {
                for i in 0..<m { uColumns[i, column] = svd.u[i, j] }
                for i in 0..<n { vColumns[i, column] = svd.vt[j, i] }
                values[column] = svd.singularValues[j]
                column += 1
            }
        }
        return (
            u: try Self.nearestOrthogonal(uColumns), s: values, v: try Self.nearestOrthogonal(vColumns), perSource: k,
            sourceValues: decompositions.map(\.singularValues), belowFloor: belowFloor
        )
    }

    /// A source's top `min(m, n) / T` components, computed as it is read.
    public func reduce(_ taskVector: Matrix, context: ReductionContext) throws -> ReducedTaskVector? {
        let k = max(1, min(taskVector.rows, taskVector.columns) / max(1, context.presentSources))
        return ReducedTaskVector(
            decomposition: try decompose(taskVector, k: k, seed: context.seed &+ UInt64(context.sourceIndex)),
            squaredNorm: context.squaredNorm ?? SumOfSquares.of(taskVector.elements))
    }

    func decompose(_ matrix: Matrix, k: Int, seed: UInt64) throws -> SingularValueDecomposition {
        exactSVD
            ? try SingularValueDecomposition(matrix).truncated(to: k)
            : try RandomizedSVD.truncated(matrix, rank: k, seed: seed)
    }

    /// `P Q^T` where `X = P Σ Q^T`: the orthogonal matrix closest to `X` in Frobenius norm.
    static func nearestOrthogonal(_ x: Matrix) throws(AmalgamError) -> Matrix {
        let svd = try SingularValueDecomposition(x)
        return try BLAS.multiply(svd.u, svd.vt)
    }
}
