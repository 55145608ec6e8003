import AmalgamCore
import Dispatch
import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

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
        BLAS.setThreadCount(1)
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
        BLAS.setThreadCount(1)
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
