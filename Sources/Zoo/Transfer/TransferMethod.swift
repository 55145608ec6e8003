import Amalgam
import MergeKernel
import Tuning

/// A way to adapt to the target task, each at the same trainable budget where it has one:
/// a merge of the other tasks' sources followed by Stage 2 (only the top-N singular values
/// of each merged matrix train, beside a new head), Stage 2 in the base's own or random
/// directions, the head alone, or every weight.
public enum TransferMethod: String, Sendable, CaseIterable {
    case axis
    /// AXIS with the trainable values starting at the merged ones.
    case axisMergedStart = "axis-merged-start"
    case average
    case ties
    case tsvm = "tsv-m"
    case dare
    case baseS2 = "base"
    case randomS2 = "random"
    case linearProbe = "linear-probe"
    case fullFineTune = "full-fine-tune"

    /// How tables name it.
    public var label: String {
        switch self {
        case .axis: "AXIS"
        case .axisMergedStart: "AXIS (merged start)"
        case .average: "Average+S2"
        case .ties: "TIES+S2"
        case .tsvm: "TSV-M+S2"
        case .dare: "DARE+S2"
        case .baseS2: "Base+S2"
        case .randomS2: "Random+S2"
        case .linearProbe: "Linear probe"
        case .fullFineTune: "Full fine-tune"
        }
    }

    /// Methods that merge the sources first.
    public var merges: Bool { mergeName != nil }

    /// Methods whose trainable count depends on N (Stage 2 in some subspace).
    public var usesFraction: Bool { self != .linearProbe && self != .fullFineTune }

    var mergeName: String? {
        switch self {
        case .axis, .axisMergedStart: "axis"
        case .average: "average"
        case .ties: "ties"
        case .tsvm: "tsv"
        case .dare: "dare"
        default: nil
        }
    }

    /// The merge method: AXIS keeps `K = round-half-up(kFraction · min(m, n))` components;
    /// TIES (density 0.2) and TSV-M at their defaults; DARE (drop 0.9) combined as a mean,
    /// as mergekit's normalised `dare_linear` does.
    func mergeMethod(kFraction: Double, sourceCount: Int) -> (any MergeMethod)? {
        switch self {
        case .axis, .axisMergedStart: AXISMerge(fraction: kFraction)
        case .average: AverageMerge()
        case .ties: TIESMerge()
        case .tsvm: TSVMerge()
        case .dare: DAREMerge(lambda: 1 / Float(max(sourceCount, 1)))
        default: nil
        }
    }

    var subspace: StageTwoSubspace {
        switch self {
        case .baseS2: .base
        case .randomS2: .random
        default: .merge
        }
    }
}
