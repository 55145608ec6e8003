import Amalgam

/// `amalgam train`: ordinary training with the same engine (sources for a merge, baselines).
struct TrainCommand: Command {
    static let name = "train"
    static let summary = "Train a model's weights (full) or its classification head (head) on a task."
    static let positionals = ["MODEL"]
    static let requiredSettings: [Setting] = [.data, .output]
    static let outputSettings: [Setting] = [.to, .dtype, .quant]
    static let settings: [Setting] =
        [.trainMode] + TuneOptions.trainingSettings + [.output] + outputSettings + TuneOptions.modelSettings
    static let discussion = """
        example:
          amalgam train classifier-base.safetensors --data train.npz --eval test.npz --epochs 2 --lr 0.01 \\
                        --output trained.safetensors
        """

    let options: TuneOptions

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        let model = try arguments.positionals(Self.positionals)[0]
        var options = try TuneOptions(
            arguments.values, model: model, mode: .trainMode, outputs: try Self.outputs(arguments.values))
        Self.attachTerminal(&options, command: Self.name)
        self.options = options
    }

    func run() throws {
        Self.report(try Amalgam.tune(options), command: "trained")
    }

    /// `--output` with its settings.
    static func outputs(_ values: SettingValues) throws(AmalgamError) -> [ModelOutput] {
        [ModelOutput(path: try values.required(.output), settings: ModelOutput.settings(from: values))]
    }

    static func attachTerminal(_ options: inout TuneOptions, command: String) {
        options.progress = TerminalProgress()
        options.warn = { Terminal.err("amalgam \(command): warning: \($0)") }
    }

    /// The trainable counts, one line per epoch, and the files written.
    static func report(_ outcome: TuneOutcome, command: String) {
        let counts = outcome.counts
        var line = "\(command): \(InspectionReport.grouped(counts.total)) trainable parameters"
        if counts.singularValues > 0 {
            line +=
                " (\(InspectionReport.grouped(counts.singularValues)) singular values"
                + (counts.head > 0 ? ", \(InspectionReport.grouped(counts.head)) in a new head)" : ")")
        } else if counts.head > 0 && counts.head != counts.total {
            line += " (\(InspectionReport.grouped(counts.head)) in the head)"
        }
        Terminal.out(line)
        for record in outcome.records {
            var text =
                "  epoch \(record.epoch): loss \(ByteSize.formatFixed(record.trainLoss, digits: 4)), train accuracy \(ByteSize.formatFixed(record.trainAccuracy * 100, digits: 2))%"
            if let loss = record.evalLoss, let accuracy = record.evalAccuracy {
                text +=
                    ", eval loss \(ByteSize.formatFixed(loss, digits: 4)), eval accuracy \(ByteSize.formatFixed(accuracy * 100, digits: 2))%"
            }
            text += ", \(Int(record.examplesPerSecond.rounded())) examples/s"
            Terminal.out(text)
        }
        for file in outcome.files { Terminal.out("  wrote \(file)") }
    }
}
