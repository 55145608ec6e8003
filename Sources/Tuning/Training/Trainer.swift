import AmalgamCore
import Dispatch
import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// Optimisation settings (defaults: the AXIS paper's Stage 2 setup).
public struct TrainingOptions: Sendable {
    public var epochs: Int = 10
    public var learningRate: Double = 0.1
    public var batchSize: Int = 128
    public var seed: UInt64 = 0
    /// AdamW's decoupled weight decay.
    public var weightDecay: Double = 0.1
    /// Gradients are scaled so their global norm is at most this.
    public var clipNorm: Double = 1.0
    /// Stop after this many epochs without a better evaluation accuracy (needs eval data).
    public var earlyStoppingPatience: Int?

    public init() {}
}

/// What one epoch did.
public struct EpochRecord: Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var evalLoss: Double?
    public var evalAccuracy: Double?
    public var examplesPerSecond: Double
    /// The learning rate of the epoch's last step.
    public var learningRate: Double
}

/// Loss and accuracy of a model on a dataset.
public struct Evaluation: Sendable {
    public var loss: Double
    public var accuracy: Double
    public var examples: Int
}

/// AdamW (PyTorch's form: decay, then the Adam step) with a cosine schedule without
/// warm-up over all steps, and global-norm gradient clipping.
struct AdamW {
    let options: TrainingOptions
    let totalSteps: Int
    private(set) var step = 0
    let beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8

    init(options: TrainingOptions, totalSteps: Int) {
        self.options = options
        self.totalSteps = max(totalSteps, 1)
    }

    /// The learning rate of step `index` (0-based).
    func learningRate(at index: Int) -> Double {
        options.learningRate * 0.5 * (1 + cos(Double.pi * Double(index) / Double(totalSteps)))
    }

    /// Clips, then updates every trainable parameter; returns the rate used.
    @discardableResult
    mutating func update(_ parameters: [Parameter]) -> Double {
        let trainable = parameters.filter(\.trainable)
        var squared: Double = 0
        for parameter in trainable {
            squared += parameter.gradient.elements.withUnsafeBufferPointer { gradient in
                var sum: Double = 0
                for g in gradient { sum += Double(g) * Double(g) }
                return sum
            }
        }
        let norm = squared.squareRoot()
        let clip: Float = norm > options.clipNorm ? Float(options.clipNorm / (norm + 1e-6)) : 1
        let rate = learningRate(at: step)
        step += 1
        let correction1 = 1 - pow(beta1, Double(step))
        let correction2 = 1 - pow(beta2, Double(step))
        let decay = Float(1 - rate * options.weightDecay)
        let stepSize = Float(rate / correction1)
        let root2 = Float(correction2.squareRoot())
        let epsilon32 = Float(epsilon)
        let (b1, b2) = (Float(beta1), Float(beta2))
        for parameter in trainable {
            if parameter.firstMoment.isEmpty {
                parameter.firstMoment = [Float](repeating: 0, count: parameter.count)
                parameter.secondMoment = [Float](repeating: 0, count: parameter.count)
            }
            // One exclusive access per array, not one per element; large tensors in two halves.
            let count = parameter.count
            parameter.value.elements.withUnsafeMutableBufferPointer { values in
                parameter.firstMoment.withUnsafeMutableBufferPointer { first in
                    parameter.secondMoment.withUnsafeMutableBufferPointer { second in
                        parameter.gradient.elements.withUnsafeBufferPointer { gradient in
                            let (values, first, second, gradient) = (
                                UncheckedBuffer(values), UncheckedBuffer(first), UncheckedBuffer(second),
                                UncheckedBuffer(gradient)
                            )
                            let step: @Sendable (Range<Int>) -> Void = { range in
                                for i in range {
                                    let g = gradient[i] * clip
                                    let m = b1 * first[i] + (1 - b1) * g
                                    let v = b2 * second[i] + (1 - b2) * g * g
                                    first[i] = m
                                    second[i] = v
                                    values[i] =
                                        values[i] * decay - stepSize * m / ((v.squareRoot() / root2) + epsilon32)
                                }
                            }
                            Parallel.ranges(count, step)
                        }
                    }
                }
            }
        }
        return rate
    }
}

/// Runs epochs of mini-batch training on a network: seeded shuffles, AdamW, evaluation on
/// held-out data after each epoch, optional early stopping.
final class Trainer {
    let network: any Network
    let options: TrainingOptions

    init(network: any Network, options: TrainingOptions) {
        self.network = network
        self.options = options
    }

    func train(_ data: Dataset, eval: Dataset?, progress: any ProgressReporter) throws -> [EpochRecord] {
        BLAS.setThreadCount(Parallelism.current.threads)
        let batches = (data.count + options.batchSize - 1) / options.batchSize
        var optimizer = AdamW(options: options, totalSteps: batches * options.epochs)
        var random = SeededRandom(seed: options.seed)
        var records: [EpochRecord] = []
        var best = -1.0
        var sinceBest = 0
        let parameters = network.parameters
        for epoch in 1...max(options.epochs, 1) where options.epochs > 0 {
            let last =
                records.last.map {
                    " (loss \(($0.trainLoss * 10_000).rounded() / 10_000), \(Int($0.examplesPerSecond.rounded())) ex/s)"
                } ?? ""
            progress.begin(label: "epoch \(epoch)/\(options.epochs)\(last)", total: Int64(data.count))
            let order = random.permutation(data.count)
            let start = DispatchTime.now().uptimeNanoseconds
            var lossSum: Double = 0
            var correct = 0
            var rate = 0.0
            for batchIndex in 0..<batches {
                let indices = Array(
                    order[(batchIndex * options.batchSize)..<min((batchIndex + 1) * options.batchSize, data.count)])
                let (inputs, labels) = data.batch(indices)
                for parameter in parameters { parameter.zeroGradient() }
                let logits = try network.forward(inputs)
                let result = CrossEntropy.evaluate(logits: logits, labels: labels)
                guard result.loss.isFinite else {
                    throw AmalgamError(
                        .mismatch,
                        "training diverged: the loss is \(result.loss) at epoch \(epoch), step \(batchIndex + 1); try a lower --lr"
                    )
                }
                try network.backward(result.gradient)
                rate = optimizer.update(parameters)
                lossSum += result.loss * Double(indices.count)
                correct += result.correct
                progress.advance(by: Int64(indices.count))
            }
            progress.finish()
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            var record = EpochRecord(
                epoch: epoch, trainLoss: lossSum / Double(data.count),
                trainAccuracy: Double(correct) / Double(data.count),
                evalLoss: nil, evalAccuracy: nil, examplesPerSecond: Double(data.count) / max(seconds, 1e-9),
                learningRate: rate)
            if let eval {
                let result = try Self.evaluate(network, on: eval, batchSize: options.batchSize)
                record.evalLoss = result.loss
                record.evalAccuracy = result.accuracy
            }
            records.append(record)
            if let patience = options.earlyStoppingPatience, let accuracy = record.evalAccuracy {
                if accuracy > best {
                    best = accuracy
                    sinceBest = 0
                } else {
                    sinceBest += 1
                }
                if sinceBest >= patience { break }
            }
        }
        return records
    }

    static func evaluate(_ network: any Network, on data: Dataset, batchSize: Int) throws -> Evaluation {
        BLAS.setThreadCount(Parallelism.current.threads)
        var lossSum: Double = 0
        var correct = 0
        try data.inOrder(batchSize: batchSize) { inputs, labels in
            let result = CrossEntropy.evaluate(logits: try network.forward(inputs), labels: labels)
            lossSum += result.loss * Double(labels.count)
            correct += result.correct
        }
        return Evaluation(
            loss: lossSum / Double(data.count), accuracy: Double(correct) / Double(data.count), examples: data.count)
    }
}
