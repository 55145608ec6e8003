import AmalgamCore
import LinearAlgebra

/// Low-rank factors `D = U diag(S) V^T` of a merged update (`U` is m x r, `V` is n x r).
public struct LowRankFactors: Sendable {
    public let u: Matrix
    public let s: [Float]
    public let v: Matrix

    public init(u: Matrix, s: [Float], v: Matrix) {
        self.u = u
        self.s = s
        self.v = v
    }
}
