import AmalgamCore
import ONNXFormat
import Tuning

/// The vision families' zoo: the eight tasks' data from Fashion-MNIST and the digits, and a
/// base pre-trained by predicting rotations (0/90/180/270°) of Fashion training images, so
/// it has seen no task's labels.
enum VisionZoo {
    static func prepare(_ options: ZooOptions, budget: ZooBudget) throws -> PreparedZoo {
        let fashionTrain = try VisionData.fashion("train", folder: options.fashionFolder)
        let fashionTest = try VisionData.fashion("t10k", folder: options.fashionFolder)
        let digits = try VisionData.digits(options.digits)
        var random = SeededRandom(seed: options.seed)
        // The digits have no official split: a seeded 500 for testing, the rest for training.
        let digitOrder = random.permutation(digits.count)
        let digitsTest = digits.subset(Array(digitOrder.prefix(500)))
        let digitsTrain = digits.subset(Array(digitOrder.dropFirst(500)))

        var tasks: [PreparedZoo.Task] = []
        for task in VisionTask.all {
            var taskRandom = SeededRandom(seed: options.seed, stream: task.name)
            let (train, test) = task.images == .fashion ? (fashionTrain, fashionTest) : (digitsTrain, digitsTest)
            let trainSet = task.examples(from: train, order: taskRandom.permutation(train.count), limit: budget.train)
            let testSet = task.examples(from: test, order: taskRandom.permutation(test.count), limit: budget.test)
            tasks.append(
                PreparedZoo.Task(
                    name: task.name, summary: task.summary, classes: task.classes,
                    train: try LabelledData(trainSet, name: task.name + "-train"),
                    test: try LabelledData(testSet, name: task.name + "-test")))
        }

        // The rotation pretext: every chosen image at all four rotations.
        let order = random.permutation(fashionTrain.count)
        let pretext = rotations(of: fashionTrain.subset(Array(order.prefix(budget.pretrainImages))))
        let pretextTest = rotations(of: fashionTest.subset(Array(random.permutation(fashionTest.count).prefix(500))))
        let initial =
            options.family == .mlp
            ? try VisionModels.mlp(classes: 4, seed: options.seed)
            : try VisionModels.vit(classes: 4, seed: options.seed)
        var setup = fineTuneSetup(seed: options.seed)
        setup.training.epochs = budget.pretrainEpochs
        setup.training.headLearningRate = nil
        options.info(
            "pre-training the \(options.family.rawValue) base on rotation prediction: \(budget.pretrainImages) Fashion-MNIST images at 4 rotations, \(budget.pretrainEpochs) epochs"
        )
        let (base, accuracy) = try ZooTraining.train(
            initial, setup: setup, classes: 4, train: try LabelledData(pretext, name: "pretext").dataset,
            test: try LabelledData(pretextTest, name: "pretext-test").dataset, progress: options.progress)
        options.info("  rotation accuracy on held-out images: \(percent(accuracy))")
        var zoo = PreparedZoo(
            base: base,
            pretraining:
                "rotation prediction (0/90/180/270°) on \(budget.pretrainImages) Fashion-MNIST training images, \(budget.pretrainEpochs) epochs; held-out rotation accuracy \(percent(accuracy))",
            tasks: tasks, fineTune: fineTuneSetup(seed: options.seed &+ 1))
        zoo.heads = options.family == .vit ? VisionModels.vitHeads : nil
        zoo.ggufArchitecture = options.family.rawValue
        zoo.inputs = [options.digits]
        if options.family == .mlp {
            zoo.onnx = { graph in
                var onnx = ONNXWriterOptions()
                onnx.computation = VisionModels.mlpComputation(graph)
                return onnx
            }
        }
        return zoo
    }

    /// Full training at lr 1e-3, the head at 1e-2, batch 64, AdamW weight decay 0.1.
    static func fineTuneSetup(seed: UInt64) -> TuningSetup {
        var setup = TuningSetup(mode: .full)
        setup.training.learningRate = 1e-3
        setup.training.headLearningRate = 1e-2
        setup.training.batchSize = 64
        setup.training.seed = seed
        return setup
    }

    /// Each image at 0, 90, 180 and 270° (labels 0-3).
    static func rotations(of set: ImageSet) -> ImageSet {
        var result = ImageSet(pixels: [], labels: [], height: set.height, width: set.width)
        for index in 0..<set.count {
            for turns in 0..<4 {
                result.pixels += ImageTransforms.rotated(
                    set.image(index), height: set.height, width: set.width, quarterTurns: turns)
                result.labels.append(turns)
            }
        }
        return result
    }
}

/// `97.25%`.
func percent(_ fraction: Double) -> String {
    let hundredths = Int((fraction * 10_000).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)%"
}
