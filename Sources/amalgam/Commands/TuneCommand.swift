import Amalgam

/// `amalgam tune`: AXIS Stage 2, singular-value tuning of a merge on target data.
struct TuneCommand: Command {
    static let name = "tune"
    static let summary =
        "Adapt a merge to a task by training the top singular values of its merged matrices (AXIS stage 2)."
    static let requiredSettings: [Setting] = [.tuneBase, .tuneFactors, .merged, .data, .output]
    static let settings: [Setting] =
        TuneOptions.stageTwoSettings + TuneOptions.trainingSettings + [.output] + TrainCommand.outputSettings
        + TuneOptions.modelSettings
    static let discussion = """
        The trainable values start at zero by default, so the tuned model begins at the base
        weights in the merge's subspace; only the classification head is created and trained
        when the model has none for the data's labels.

        example:
          amalgam tune --base classifier-base.safetensors --factors classifier-factors.safetensors \\
                       --merged classifier-merged.safetensors --data train.npz --eval test.npz \\
                       --sv-fraction 0.5 --epochs 2 --lr 0.1 --output tuned.safetensors
        """

    let options: TuneOptions

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        _ = try arguments.positionals([])
        var options = try TuneOptions(
            arguments.values, model: nil, mode: .tuneMode, outputs: try TrainCommand.outputs(arguments.values))
        TrainCommand.attachTerminal(&options, command: Self.name)
        self.options = options
    }

    func run() throws {
        TrainCommand.report(try Amalgam.tune(options), command: "tuned")
    }
}
