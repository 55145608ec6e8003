import Amalgam
import MergeKernel
import Tuning

/// A way to adapt to the target task, each at the same trainable budget where it has one:
/// a merge of the other tasks' sources followed by Stage 2 (only the top-N singular values
/// of each merged matrix train, beside a new head), Stage 2 in the base's own or random
/// directions, the head alone, or every weight; and variants of AXIS (`variants`, run only
/// when asked for by name).
public enum TransferMethod: String, Sendable, CaseIterable {
    case axis
    /// AXIS with the trainable values starting at the merged ones.
    case axisMergedStart = "axis-merged-start"
    /// AXIS pooling components by their share of their own source's energy.
    case axisNormalized = "axis-normalized"
    /// AXIS giving every source ⌊K / T⌋ places first.
    case axisQuota = "axis-quota"
    /// AXIS with TSV-M's orthogonalisation of the kept U and V.
    case axisOrthogonal = "axis-tsv-orthogonal"
    /// AXIS's K components trained, TSV-M's update outside their span kept frozen.
    case axisRemainder = "axis-tsv-remainder"
    /// AXIS with the normalised ranking, the quota and TSV-M's orthogonalisation together.
    case axisBalanced = "axis-balanced"
    /// The balanced selection's K trained, TSV-M's update outside their span frozen.
    case axisBalancedRemainder = "axis-balanced-remainder"
    /// `axis-balanced-remainder` with the trained values starting at the merged ones.
    case axisBalancedRemainderMergedStart = "axis-balanced-remainder-merged-start"
    /// AXIS keeping K = 40% (its own components beyond N stay frozen).
    case axisWide = "axis-k40"
    /// AXIS at K = 40%, Stage 2's N spread over the matrices by energy.
    case axisWideEnergy = "axis-k40-energy"
    case average
    case ties
    case tsvm = "tsv-m"
    /// TSV-M + Stage 2 with the trained values starting at the merged ones (the control for
    /// the variants that start there).
    case tsvmMergedStart = "tsv-m-merged-start"
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
        case .axisNormalized: "AXIS (normalised ranking)"
        case .axisQuota: "AXIS (per-source quota)"
        case .axisOrthogonal: "AXIS (TSV orthogonalisation)"
        case .axisRemainder: "AXIS + TSV-M remainder"
        case .axisBalanced: "AXIS (normalised, quota, TSV orth.)"
        case .axisBalancedRemainder: "AXIS (balanced) + TSV-M remainder"
        case .axisBalancedRemainderMergedStart: "AXIS (balanced) + TSV-M remainder, merged start"
        case .axisWide: "AXIS (K = 40%)"
        case .axisWideEnergy: "AXIS (K = 40%, N by energy)"
        case .average: "Average+S2"
        case .ties: "TIES+S2"
        case .tsvm: "TSV-M+S2"
        case .tsvmMergedStart: "TSV-M+S2 (merged start)"
        case .dare: "DARE+S2"
        case .baseS2: "Base+S2"
        case .randomS2: "Random+S2"
        case .linearProbe: "Linear probe"
        case .fullFineTune: "Full fine-tune"
        }
    }

    /// The methods a benchmark runs when none are named: the paper's AXIS and the baselines.
    public static let standard: [TransferMethod] = allCases.filter { !variants.contains($0) }

    /// AXIS's variants beyond the paper, and TSV-M+S2 from the merged values as their control (the Merge models article, "AXIS variants").
    public static let variants: [TransferMethod] = [
        .axisNormalized, .axisQuota, .axisOrthogonal, .axisRemainder, .axisBalanced, .axisBalancedRemainder,
        .axisBalancedRemainderMergedStart, .axisWide, .axisWideEnergy, .tsvmMergedStart,
    ]

    /// Methods that merge the sources first.
    public var merges: Bool { mergeName != nil }

    /// Methods whose trainable count depends on N (Stage 2 in some subspace).
    public var usesFraction: Bool { self != .linearProbe && self != .fullFineTune }

    var mergeName: String? {
        switch self {
        case .tsvm, .tsvmMergedStart: "tsv"
        case .axis, .axisMergedStart: "axis"
        case let method where Self.variants.contains(method): "axis"
        case .average: "average"
        case .ties: "ties"
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
        case .axisNormalized: AXISMerge(fraction: kFraction, ranking: .normalized)
        case .axisQuota: AXISMerge(fraction: kFraction, perSourceQuota: true)
        case .axisOrthogonal: AXISMerge(fraction: kFraction, orthogonalization: .tsv)
        case .axisRemainder: AXISMerge(fraction: kFraction, remainder: .tsv)
        case .axisBalanced:
            AXISMerge(fraction: kFraction, ranking: .normalized, perSourceQuota: true, orthogonalization: .tsv)
        case .axisBalancedRemainder, .axisBalancedRemainderMergedStart:
            AXISMerge(
                fraction: kFraction, ranking: .normalized, perSourceQuota: true, orthogonalization: .tsv,
                remainder: .tsv)
        case .axisWide, .axisWideEnergy: AXISMerge(fraction: max(kFraction, Self.wideFraction))
        case .average: AverageMerge()
        case .ties: TIESMerge()
        case .tsvm, .tsvmMergedStart: TSVMerge()
        case .dare: DAREMerge(lambda: 1 / Float(max(sourceCount, 1)))
        default: nil
        }
    }

    /// K of the wide variants.
    static let wideFraction = 0.4

    /// Stage 2's trained values start at the merged ones (else at zero).
    var startsMerged: Bool {
        self == .axisMergedStart || self == .axisBalancedRemainderMergedStart || self == .tsvmMergedStart
    }

    var allocation: SingularValueAllocation { self == .axisWideEnergy ? .energy : .uniform }

    var subspace: StageTwoSubspace {
        switch self {
        case .baseS2: .base
        case .randomS2: .random
        default: .merge
        }
    }
}
