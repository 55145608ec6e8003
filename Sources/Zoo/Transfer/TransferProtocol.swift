import AmalgamCore
import MergeKernel
import Tuning

/// The benchmark's protocol: the paper's Stage 2 at small scale, every method trained on
/// the same target data with the same budget of steps.
public struct TransferProtocol: Sendable, Equatable {
    /// N, the fraction of each merged matrix's singular values that train.
    public var fractions: [Double] = [0.1, 0.2, 0.4]
    public var seeds: [UInt64] = [0, 1, 2]
    /// AXIS keeps K = round-half-up(max(kFraction, N) · min(m, n)) components: N ≤ K, so
    /// Stage 2 never trains directions the merge did not choose.
    public var kFraction = 0.1
    /// At most this many target training examples.
    public var trainLimit = 2000
    public var batch = 64
    /// epochs = max(minimumEpochs, ceil(steps / steps per epoch)).
    public var steps = 480
    public var minimumEpochs = 5
    /// Stage 2's singular values, and the head beside them.
    public var learningRate = 0.1
    public var headLearningRate = 1e-2
    /// The linear probe's rate: the best of 1e-3, 1e-2 and 1e-1 on two MLP targets (its
    /// features are small; at 1e-2 it underfits by about 10 points).
    public var probeLearningRate = 0.1
    /// Full fine-tuning trains every weight at this rate (its head at `headLearningRate`).
    public var fineTuneLearningRate = 1e-3
    public var weightDecay = 0.1
    public var clipNorm = 1.0
    /// The merges' floor for quantised sources (`--noise-floor`).
    public var noiseFloor = NoiseFloor.automatic

    public init() {}

    public func epochs(examples: Int) -> Int {
        let perEpoch = (examples + batch - 1) / batch
        return max(minimumEpochs, (steps + perEpoch - 1) / max(perEpoch, 1))
    }

    /// The training setup of `method` at fraction `fraction`.
    func setup(_ method: TransferMethod, fraction: Double, seed: UInt64, examples: Int, heads: Int?) -> TuningSetup {
        var setup: TuningSetup
        switch method {
        case .linearProbe:
            setup = TuningSetup(mode: .head)
            setup.training.learningRate = probeLearningRate
        case .fullFineTune:
            setup = TuningSetup(mode: .full)
            setup.training.learningRate = fineTuneLearningRate
            setup.training.headLearningRate = headLearningRate
        default:
            setup = TuningSetup(mode: .singularValues)
            setup.training.learningRate = learningRate
            setup.training.headLearningRate = headLearningRate
            setup.singularValueCount = .fraction(fraction)
            setup.singularValueStart = method.startsMerged ? .merged : .zero
            setup.subspace = method.subspace
            setup.singularValueAllocation = method.allocation
        }
        setup.transformer.heads = heads
        setup.training.batchSize = batch
        setup.training.epochs = epochs(examples: examples)
        setup.training.seed = seed
        setup.training.weightDecay = weightDecay
        setup.training.clipNorm = clipNorm
        return setup
    }

    /// Names the cache folder, so results under another protocol are never reused.
    var fingerprint: String {
        let parts = [
            "k\(kFraction)", "n\(trainLimit)", "b\(batch)", "s\(steps)", "e\(minimumEpochs)", "lr\(learningRate)",
            "h\(headLearningRate)", "p\(probeLearningRate)", "ft\(fineTuneLearningRate)", "wd\(weightDecay)",
            "c\(clipNorm)",
            "nf\(noiseFloor)",
        ]
        let text = parts.joined(separator: "-")
        return String(SeededRandom.fingerprint(text), radix: 16)
    }

    var json: JSONValue {
        func number(_ value: Double) -> JSONValue { .number("\(value)") }
        return .object([
            ("fractions", .array(fractions.map(number))), ("seeds", .array(seeds.map { .integer($0) })),
            ("k_fraction", number(kFraction)), ("train_limit", .integer(trainLimit)), ("batch", .integer(batch)),
            ("steps", .integer(steps)), ("minimum_epochs", .integer(minimumEpochs)),
            ("learning_rate", number(learningRate)), ("head_learning_rate", number(headLearningRate)),
            ("probe_learning_rate", number(probeLearningRate)),
            ("fine_tune_learning_rate", number(fineTuneLearningRate)), ("weight_decay", number(weightDecay)),
            ("clip_norm", number(clipNorm)), ("optimizer", .string("AdamW, cosine schedule without warm-up")),
            ("noise_floor", .string(noiseFloor.description)),
        ])
    }
}
