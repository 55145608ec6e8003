import AmalgamCore

/// How Stage 2 spreads its trainable singular values over the merged matrices.
public enum SingularValueAllocation: String, Sendable, CaseIterable {
    /// N per matrix from `SingularValueCount` (the paper).
    case uniform
    /// The same total, `Σ min(N, rank)`, given to the components with the largest share of
    /// their own matrix's update energy, `σⱼ² / Σ σ²`, across all matrices (every matrix
    /// keeps at least one; at most its factors' rank).
    case energy

    /// Per matrix of `factors`, how many of its top singular values train under `count`.
    /// O(R log R) for R factor columns in all; ties go to the earlier matrix, then the
    /// larger value.
    public func counts(_ factors: FactorSet, count: SingularValueCount) -> [String: Int] {
        var counts: [String: Int] = [:]
        let matrices = factors.matrices
        var budget = 0
        for (name, matrix) in matrices {
            let uniform = min(count.resolve(rows: matrix.rows, columns: matrix.columns), matrix.rank)
            budget += uniform
            counts[name] = uniform
        }
        guard self == .energy else { return counts }
        struct Share {
            let share: Double
            let matrix: Int
            let index: Int
        }
        var shares: [Share] = []
        for (position, (_, matrix)) in matrices.enumerated() {
            let energy = matrix.s.reduce(0.0) { $0 + Double($1) * Double($1) }
            // Each matrix's first component is kept anyway; the others compete.
            for (index, value) in matrix.s.enumerated() where index > 0 {
                shares.append(
                    Share(
                        share: energy > 0 ? Double(value) * Double(value) / energy : 0, matrix: position, index: index))
            }
        }
        shares.sort { ($0.share, -$0.matrix, -$0.index) > ($1.share, -$1.matrix, -$1.index) }
        var chosen = matrices.map { $0.factors.rank > 0 && budget > 0 ? 1 : 0 }
        let remaining = max(budget - chosen.reduce(0, +), 0)
        for share in shares.prefix(remaining) { chosen[share.matrix] += 1 }
        for (position, (name, _)) in matrices.enumerated() { counts[name] = chosen[position] }
        return counts
    }
}
