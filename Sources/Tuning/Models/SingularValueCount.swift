import AmalgamCore
import LinearAlgebra

/// How many singular values of each merged matrix train.
public enum SingularValueCount: Sendable, Equatable {
    /// Round-half-up of `fraction · min(m, n)`.
    case fraction(Double)
    case count(Int)

    func resolve(rows: Int, columns: Int) -> Int {
        switch self {
        case .count(let n): n
        case .fraction(let f): Int((f * Double(min(rows, columns))).rounded(.toNearestOrAwayFromZero))
        }
    }
}
