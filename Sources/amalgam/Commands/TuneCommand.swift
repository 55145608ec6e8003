import Amalgam

/// Options shared by `tune`, `train`, `eval` and `forward`: how to build the classifier.
struct ModelArguments {
    static let options: [OptionSpec] = [
        .option("arch", "ARCH", "mlp, bert or vit (default: from the model's metadata, then its tensor names)."),
        .option(
            "activation", "NAME",
            "mlp: relu (default), gelu, gelu_tanh or tanh (weights cannot tell; recorded in the output's metadata)."),
        .option(
            "heads", "N", "bert, vit: attention heads (default: num_attention_heads of config.json beside the model)."),
        .option(
            "pooling", "KIND",
            "bert: mean (default), cls, or pooler (CLS through pooler.dense and tanh, as BertForSequenceClassification)."
        ),
        .option(
            "labels", "N",
            "Number of classes (default: the model's head when the labels fit it, else the largest label plus one)."),
    ]

    var setup: TuningSetup
    var classes: Int?

    init(_ arguments: ParsedArguments, mode: TrainingMode) throws(UsageError) {
        setup = TuningSetup(mode: mode)
        if let name = try arguments.value("arch") {
            guard let architecture = Architecture(rawValue: name) else {
                throw UsageError("--arch must be mlp, bert or vit, not '\(name)'")
            }
            setup.architecture = architecture
        }
        if let name = try arguments.value("activation") {
            guard let activation = Activation(rawValue: name) else {
                throw UsageError("--activation must be relu, gelu, gelu_tanh or tanh, not '\(name)'")
            }
            setup.activation = activation
        }
        if let text = try arguments.value("heads") {
            guard let heads = Int(text), heads > 0 else {
                throw UsageError("--heads must be a positive whole number, not '\(text)'")
            }
            setup.transformer.heads = heads
        }
        if let name = try arguments.value("pooling") {
            guard let pooling = Pooling(rawValue: name) else {
                throw UsageError("--pooling must be mean, cls or pooler, not '\(name)'")
            }
            setup.transformer.pooling = pooling
        }
        if let text = try arguments.value("labels") {
            guard let classes = Int(text), classes >= 2 else {
                throw UsageError("--labels must be a whole number of at least 2, not '\(text)'")
            }
            self.classes = classes
        }
    }
}

/// Options of `tune` and `train`: optimisation and outputs.
struct TrainingArguments {
    static let options: [OptionSpec] =
        [
            .option(
                "data", "TRAIN.npz",
                "Training data: x and y, or input_ids, attention_mask[, token_type_ids] and labels."),
            .option("eval", "TEST.npz", "Held-out data, evaluated after every epoch."),
            .option("epochs", "N", "Epochs (default 10)."),
            .option(
                "lr", "F", "Peak learning rate of the cosine schedule (default 0.1 for --train sv, 0.001 otherwise)."),
            .option("batch", "N", "Examples per step (default 128)."),
            .option("seed", "N", "Seed of the shuffles and of a new head (default 0)."),
            .option("weight-decay", "F", "AdamW weight decay (default 0.1)."),
            .option("clip", "F", "Clip the global gradient norm at F (default 1.0)."),
            .option("early-stopping", "N", "Stop after N epochs without a better eval accuracy."),
            .option("output", "OUT", "Where to write the trained model (any writable format)."),
            .option("to", "FORMAT", "Output format (default: from OUT's extension)."),
            .option("dtype", "DTYPE", "Write floating-point tensors as f32, f16 or bf16."),
            .option("quant", "TYPE", "GGUF output: quantise 2-D weights."),
            .option("log", "FILE", "The JSON log (default: OUT.log.json)."),
            .flag("force", "Overwrite existing outputs (inputs are never overwritten)."),
        ] + ModelArguments.options

    let options: TuneOptions

    init(_ arguments: ParsedArguments, model: String, mode: TrainingMode, command: String) throws(UsageError) {
        let parsedModel = try ModelArguments(arguments, mode: mode)
        var setup = parsedModel.setup
        guard let data = try arguments.value("data") else { throw UsageError("missing --data TRAIN.npz") }
        guard let output = try arguments.value("output") else { throw UsageError("missing --output OUT") }
        func integer(_ name: String, minimum: Int) throws(UsageError) -> Int? {
            guard let text = try arguments.value(name) else { return nil }
            guard let value = Int(text), value >= minimum else {
                throw UsageError("--\(name) must be a whole number of at least \(minimum), not '\(text)'")
            }
            return value
        }
        func real(_ name: String, _ range: ClosedRange<Double>) throws(UsageError) -> Double? {
            guard let text = try arguments.value(name) else { return nil }
            guard let value = Double(text), range.contains(value) else {
                throw UsageError(
                    "--\(name) must be a number in [\(range.lowerBound), \(range.upperBound)], not '\(text)'")
            }
            return value
        }
        setup.training.epochs = try integer("epochs", minimum: 0) ?? 10
        setup.training.learningRate = try real("lr", 0...10) ?? setup.training.learningRate
        setup.training.batchSize = try integer("batch", minimum: 1) ?? 128
        if let text = try arguments.value("seed") {
            guard let seed = UInt64(text) else {
                throw UsageError("--seed must be a non-negative whole number, not '\(text)'")
            }
            setup.training.seed = seed
        }
        setup.training.weightDecay = try real("weight-decay", 0...1) ?? 0.1
        setup.training.clipNorm = try real("clip", 1e-6...1e6) ?? 1.0
        setup.training.earlyStoppingPatience = try integer("early-stopping", minimum: 1)
        let parsed = try OutputArguments(arguments)
        var options = TuneOptions(
            model: model, data: data, setup: setup,
            outputs: [
                MergeOutput(
                    path: output, format: try arguments.value("to"), dtype: parsed.dtype,
                    writerOptions: parsed.writerOptions)
            ])
        options.classes = parsedModel.classes
        options.eval = try arguments.value("eval")
        options.log = try arguments.value("log")
        options.overwrite = arguments.flag("force")
        options.progress = TerminalProgress()
        options.warn = { Terminal.err("amalgam \(command): warning: \($0)") }
        self.options = options
    }

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

/// `amalgam tune`: AXIS Stage 2, singular-value tuning of a merge on target data.
struct TuneCommand: Command {
    static let name = "tune"
    static let summary =
        "Adapt a merge to a task by training the top singular values of its merged matrices (AXIS stage 2)."
    static let synopsis =
        "amalgam tune --base BASE --factors FACTORS.safetensors --merged MERGED --data TRAIN.npz [--eval TEST.npz] [--train sv] [--sv-fraction F | --sv-count N] [--sv-init zero|merged] [options] --output OUT"
    static let options: [OptionSpec] =
        [
            .option("base", "BASE", "The base model the sources were fine-tuned from (W0 of the merged matrices)."),
            .option("factors", "FILE", "The factors file a merge wrote with --factors (U, S, V per merged matrix)."),
            .option("merged", "MERGED", "The merged model (every tensor without factors is taken from it)."),
            .option(
                "train", "MODE",
                "sv (default): singular values; head: the classification head only; full: every weight."),
            .option(
                "sv-fraction", "F",
                "Train the top round(F * min(m, n)) values of each matrix (default 0.1; capped at the factors' rank)."),
            .option("sv-count", "N", "Train the top N values of each matrix instead."),
            .option(
                "sv-init", "START",
                "zero (default, the authors' reference: W = W0 + frozen rest) or merged (start from the merge's values)."
            ),
        ] + TrainingArguments.options
    static let discussion = """
        The trainable values start at zero by default, so the tuned model begins at the base
        weights in the merge's subspace; only the classification head is created and trained
        when the model has none for the data's labels.

        example:
          amalgam tune --base base.safetensors --factors factors.safetensors --merged merged.safetensors \\
                       --data train.npz --eval test.npz --sv-fraction 0.1 --epochs 10 --lr 0.1 --output tuned.safetensors
        """

    let options: TuneOptions

    init(_ arguments: ParsedArguments) throws(UsageError) {
        _ = try arguments.positionals()
        let modeName = try arguments.value("train") ?? "sv"
        guard let mode = TrainingMode(rawValue: modeName) else {
            throw UsageError("--train must be sv, head or full, not '\(modeName)'")
        }
        guard let merged = try arguments.value("merged") else { throw UsageError("missing --merged MERGED") }
        var parsed = try TrainingArguments(arguments, model: merged, mode: mode, command: Self.name).options
        if mode == .singularValues {
            guard let base = try arguments.value("base") else {
                throw UsageError("missing --base BASE (singular-value tuning needs W0)")
            }
            guard let factors = try arguments.value("factors") else {
                throw UsageError("missing --factors FILE (from amalgam merge --factors)")
            }
            parsed.base = base
            parsed.factors = factors
        }
        if let fraction = try arguments.value("sv-fraction") {
            guard try arguments.value("sv-count") == nil else {
                throw UsageError("give --sv-fraction or --sv-count, not both")
            }
            guard let value = Double(fraction), value > 0, value <= 1 else {
                throw UsageError("--sv-fraction must be in (0, 1], not '\(fraction)'")
            }
            parsed.setup.singularValueCount = .fraction(value)
        } else if let count = try arguments.value("sv-count") {
            guard let value = Int(count), value > 0 else {
                throw UsageError("--sv-count must be a positive whole number, not '\(count)'")
            }
            parsed.setup.singularValueCount = .count(value)
        }
        if let start = try arguments.value("sv-init") {
            guard let value = SingularValueStart(rawValue: start) else {
                throw UsageError("--sv-init must be zero or merged, not '\(start)'")
            }
            parsed.setup.singularValueStart = value
        }
        options = parsed
    }

    func run() throws {
        TrainingArguments.report(try Amalgam.tune(options), command: "tuned")
    }
}

/// `amalgam train`: ordinary training with the same engine (sources for a merge, baselines).
struct TrainCommand: Command {
    static let name = "train"
    static let summary = "Train a model's weights (full) or its classification head (head) on a task."
    static let synopsis =
        "amalgam train MODEL --data TRAIN.npz [--eval TEST.npz] [--train full|head] [options] --output OUT"
    static let options: [OptionSpec] =
        [
            .option(
                "train", "MODE", "full (default): every weight; head: the classification head only (a linear probe).")
        ] + TrainingArguments.options
    static let discussion = """
        example:
          amalgam train base.safetensors --data task-a.npz --eval task-a-test.npz --epochs 3 --lr 0.001 --output a.safetensors
        """

    let options: TuneOptions

    init(_ arguments: ParsedArguments) throws(UsageError) {
        let model = try arguments.positionals("MODEL")[0]
        let modeName = try arguments.value("train") ?? "full"
        guard let mode = TrainingMode(rawValue: modeName), mode != .singularValues else {
            throw UsageError(
                "--train must be full or head, not '\(modeName)' (singular-value tuning is 'amalgam tune')")
        }
        options = try TrainingArguments(arguments, model: model, mode: mode, command: Self.name).options
    }

    func run() throws {
        TrainingArguments.report(try Amalgam.tune(options), command: "trained")
    }
}

/// `amalgam eval`: accuracy and loss of a model on labelled data.
struct EvalCommand: Command {
    static let name = "eval"
    static let summary = "Print a classifier's accuracy and loss on labelled data."
    static let synopsis =
        "amalgam eval MODEL --data TEST.npz [--arch ARCH] [--activation NAME] [--heads N] [--pooling KIND] [--labels N] [--batch N] [--json]"
    static let options: [OptionSpec] =
        [
            .option("data", "TEST.npz", "Labelled data (as for train)."),
            .option("batch", "N", "Examples per forward pass (default 128)."),
            .flag("json", "Print one JSON object: accuracy, loss, examples, classes, architecture."),
        ] + ModelArguments.options

    let model: String
    let data: String
    let arguments: ModelArguments
    let batch: Int
    let json: Bool

    init(_ arguments: ParsedArguments) throws(UsageError) {
        model = try arguments.positionals("MODEL")[0]
        guard let data = try arguments.value("data") else { throw UsageError("missing --data TEST.npz") }
        self.data = data
        self.arguments = try ModelArguments(arguments, mode: .head)
        if let text = try arguments.value("batch") {
            guard let value = Int(text), value > 0 else {
                throw UsageError("--batch must be a positive whole number, not '\(text)'")
            }
            batch = value
        } else {
            batch = 128
        }
        json = arguments.flag("json")
    }

    func run() throws {
        let dataset = try Amalgam.dataset(data)
        let tunable = try Amalgam.tunableModel(
            model, setup: arguments.setup, classes: arguments.classes, data: [(dataset, data)])
        guard tunable.hasOwnHead else {
            throw AmalgamError(
                .mismatch,
                "the model has no classification head for \(tunable.classes) classes; train one first (amalgam train --train head)",
                file: model)
        }
        let result = try tunable.evaluate(on: dataset, batchSize: batch)
        if json {
            let document = JSONValue.object([
                ("accuracy", .number("\(result.accuracy)")), ("loss", .number("\(result.loss)")),
                ("examples", .integer(result.examples)),
                ("correct", .integer(Int((result.accuracy * Double(result.examples)).rounded()))),
                ("classes", .integer(tunable.classes)),
                ("architecture", .string(tunable.architecture.rawValue)), ("model", .string(model)),
                ("data", .string(data)),
            ])
            Terminal.out(document.serialized())
        } else {
            Terminal.out(
                "\(model) on \(data): accuracy \(ByteSize.formatFixed(result.accuracy * 100, digits: 2))% (\(Int((result.accuracy * Double(result.examples)).rounded()))/\(result.examples)), loss \(ByteSize.formatFixed(result.loss, digits: 4)) (\(tunable.architecture.rawValue), \(tunable.classes) classes)"
            )
        }
    }
}
