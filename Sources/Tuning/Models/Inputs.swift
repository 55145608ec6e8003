import AmalgamCore
import LinearAlgebra

/// One batch of inputs.
public enum Inputs {
    /// Feature vectors, one row each.
    case features(Matrix)
    /// Token ids `[batch, length]` row-major, optional token types, and the attention mask
    /// (1 for real tokens, 0 for padding).
    case tokens(ids: [Int], typeIds: [Int]?, mask: [Float], batch: Int, length: Int)
    /// Images `[batch, channels·height·width]`, channel-major as PyTorch stores them.
    case images(Matrix, channels: Int, height: Int, width: Int)

    var batch: Int {
        switch self {
        case .features(let x): x.rows
        case .tokens(_, _, _, let batch, _): batch
        case .images(let x, _, _, _): x.rows
        }
    }
}
