/// How much data and training a zoo gets. `demo` builds in a few minutes on two cores,
/// `full` is the benchmark's zoo, `test` is the test suite's (seconds, not meaningful
/// accuracies).
public enum ZooSize: String, Sendable, CaseIterable {
    case test, demo, full

    /// The budget of one family at this size.
    func budget(_ family: ZooFamily) -> ZooBudget {
        switch (family, self) {
        case (.text, .test): ZooBudget(pretrainImages: 0, pretrainEpochs: 0, train: 96, test: 64, epochs: 1, steps: 0)
        case (.text, .demo):
            ZooBudget(pretrainImages: 0, pretrainEpochs: 0, train: 1000, test: 500, epochs: 2, steps: 0)
        case (.text, .full):
            ZooBudget(pretrainImages: 0, pretrainEpochs: 0, train: 3000, test: 1000, epochs: 2, steps: 0)
        case (_, .test): ZooBudget(pretrainImages: 512, pretrainEpochs: 2, train: 512, test: 256, epochs: 3, steps: 0)
        case (_, .demo):
            ZooBudget(pretrainImages: 6000, pretrainEpochs: 2, train: 5000, test: 1000, epochs: 3, steps: 480)
        case (_, .full):
            ZooBudget(pretrainImages: 20000, pretrainEpochs: 3, train: 10000, test: 2000, epochs: 5, steps: 1000)
        }
    }
}

/// Examples and epochs of a zoo build.
struct ZooBudget: Sendable {
    /// Fashion training images for the rotation pretext (each seen at all four rotations).
    let pretrainImages: Int
    let pretrainEpochs: Int
    /// At most this many training and test examples per task.
    let train: Int
    let test: Int
    /// Epochs of each source's fine-tune: at least `epochs`, and enough for `steps` batches
    /// (small tasks such as the digits get more passes).
    let epochs: Int
    let steps: Int

    func epochs(examples: Int, batch: Int) -> Int {
        max(epochs, (steps + (examples + batch - 1) / batch - 1) / max((examples + batch - 1) / batch, 1))
    }
}
