/// The sources a run merges: the other tasks' fine-tunes as stored, one replaced by noise,
/// all magnitude-pruned, or only the first few.
public enum TransferVariant: Sendable, Hashable {
    case standard
    /// The source after the target (in task order) replaced by W0 plus Gaussian noise of
    /// norm 0.5·‖Δ‖ per tensor.
    case noisySource
    /// Every source's task vector pruned to its 10% largest-magnitude entries per tensor.
    case pruned
    /// Only the first `count` of the other tasks' sources, in a seeded order.
    case sources(Int)

    var key: String {
        switch self {
        case .standard: "standard"
        case .noisySource: "noisy-source"
        case .pruned: "pruned"
        case .sources(let count): "sources-\(count)"
        }
    }

    public var label: String {
        switch self {
        case .standard: "as stored"
        case .noisySource: "one source replaced by noise (0.5·‖Δ‖)"
        case .pruned: "sources pruned to 10% by magnitude"
        case .sources(let count): "\(count) source\(count == 1 ? "" : "s")"
        }
    }
}
