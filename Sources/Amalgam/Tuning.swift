import Dispatch
@_exported import Tuning

/// Everything `amalgam tune` and `amalgam train` choose.
public struct TuneOptions: Sendable {
    /// The model to train: the merged model for Stage 2, any model for `train`.
    public var model: String
    /// Stage 2: the base model and the merge's factors file.
    public var base: String?
    public var factors: String?
    public var data: String
    public var eval: String?
    public var setup: TuningSetup
    /// Label count; default: the largest label in the data, plus one.
    public var classes: Int?
    public var outputs: [MergeOutput]
    /// The JSON log; default: the first output's path + `.log.json`.
    public var log: String?
    public var overwrite = false
    public var progress: any ProgressReporter = SilentProgress()
    public var warn: @Sendable (String) -> Void = { _ in }

    public init(model: String, data: String, setup: TuningSetup, outputs: [MergeOutput]) {
        self.model = model
        self.data = data
        self.setup = setup
        self.outputs = outputs
    }

    /// Where the log goes.
    public var logPath: String? {
        log
            ?? outputs.first.map { output in
                (output.path.hasSuffix("/") ? String(output.path.dropLast()) : output.path) + ".log.json"
            }
    }
}

/// What a tuning run did.
public struct TuneOutcome: Sendable {
    public var files: [String]
    public var records: [EpochRecord]
    public var counts: TrainableCounts
    public var log: JSONValue
}

extension Amalgam {
    /// Reads a training or evaluation file (`.npz`).
    public static func dataset(
        _ path: String, requiringLabels: Bool = true, registry: FormatRegistry = Amalgam.builtInFormats
    ) throws -> Dataset {
        try AmalgamError.withContext(file: path) {
            try Dataset(graph: try registry.read(path).graph, path: path, requiringLabels: requiringLabels)
        }
    }

    /// Builds the classifier of `model` for `data`, checking the data fits it. Without
    /// `classes`, the model's own head is used when every label fits it, else the label
    /// count is the largest label plus one (and a head is created).
    public static func tunableModel(
        _ model: String, base: String? = nil, factors: String? = nil, setup: TuningSetup, classes: Int?,
        data: [(Dataset, String)], registry: FormatRegistry = Amalgam.builtInFormats
    ) throws -> TunableModel {
        let graph = try registry.read(model).graph
        let needed = data.map(\.0.classCount).max() ?? 0
        let classes =
            classes ?? TunableModel.headClassCount(in: graph).flatMap { $0 >= needed ? $0 : nil } ?? max(needed, 2)
        let baseGraph = try base.map { try registry.read($0).graph }
        let factorGraph = try factors.map { try registry.read($0).graph }
        let tunable = try AmalgamError.withContext(file: model) {
            try TunableModel(graph: graph, base: baseGraph, factors: factorGraph, setup: setup, classes: classes)
        }
        for (dataset, path) in data { try tunable.check(dataset, path: path) }
        return tunable
    }

    /// Trains (Stage 2 singular values, the head, or everything), evaluates after each
    /// epoch, writes the trained dense model to every output and the JSON log.
    public static func tune(_ options: TuneOptions, registry: FormatRegistry = Amalgam.builtInFormats) throws
        -> TuneOutcome
    {
        guard let first = options.outputs.first else { throw AmalgamError(.usage, "training needs an --output") }
        let protected = identities(
            of: [options.model, options.base, options.factors, options.data, options.eval].compactMap { $0 })
        let writers = try prepareOutputs(
            options.outputs, extraTargets: [options.logPath].compactMap { $0 }, overwrite: options.overwrite,
            protecting: protected, registry: registry)

        let train = try dataset(options.data, registry: registry)
        let eval = try options.eval.map { try dataset($0, registry: registry) }
        var data = [(train, options.data)]
        if let eval, let path = options.eval { data.append((eval, path)) }
        let model = try tunableModel(
            options.model, base: options.base, factors: options.factors, setup: options.setup, classes: options.classes,
            data: data, registry: registry)
        let classes = model.classes
        for note in model.notes { options.warn(note) }
        let start = DispatchTime.now().uptimeNanoseconds
        let records = try model.train(on: train, eval: eval, progress: options.progress)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9

        var graph = try model.trainedGraph()
        if let dtype = first.dtype { graph = try graph.convertingFloatingPoint(to: dtype) }
        var files = try writers[0].write(
            graph, to: first.path,
            options: WriteOptions(
                overwrite: options.overwrite, maximumShardBytes: first.maximumShardBytes, protectedInputs: protected,
                extra: first.writerOptions, warn: options.warn))
        files += try convertFurtherOutputs(
            options.outputs, writtenBy: writers[0], overwrite: options.overwrite, warn: options.warn, registry: registry
        )
        let log = tuneLog(
            options: options, model: model, records: records, seconds: seconds, classes: classes, outputs: files)
        if let path = options.logPath {
            try writeJSON(log, to: path, overwrite: options.overwrite, protecting: protected)
            files.append(path)
        }
        return TuneOutcome(files: files, records: records, counts: model.trainableCounts, log: log)
    }

    static func tuneLog(
        options: TuneOptions, model: TunableModel, records: [EpochRecord], seconds: Double, classes: Int,
        outputs: [String]
    ) -> JSONValue {
        let setup = options.setup
        let counts = model.trainableCounts
        func number(_ value: Double?) -> JSONValue { value.map { $0.isFinite ? .number("\($0)") : .null } ?? .null }
        var settings: [(String, JSONValue)] = [
            ("epochs", .integer(setup.training.epochs)), ("learning_rate", number(setup.training.learningRate)),
            ("batch", .integer(setup.training.batchSize)), ("seed", .integer(Int(setup.training.seed))),
            ("weight_decay", number(setup.training.weightDecay)), ("clip_norm", number(setup.training.clipNorm)),
            ("schedule", .string("cosine, no warm-up")),
        ]
        if setup.mode == .singularValues {
            switch setup.singularValueCount {
            case .fraction(let f): settings.append(("sv_fraction", number(f)))
            case .count(let n): settings.append(("sv_count", .integer(n)))
            }
            settings.append(("sv_init", .string(setup.singularValueStart.rawValue)))
        }
        return .object([
            ("schema", .string("amalgam.tune-log/1")),
            ("mode", .string(setup.mode.rawValue)),
            ("architecture", .string(model.architecture.rawValue)),
            ("model", .string(options.model)),
            ("base", options.base.map { .string($0) } ?? .null),
            ("factors", options.factors.map { .string($0) } ?? .null),
            ("data", .string(options.data)),
            ("eval", options.eval.map { .string($0) } ?? .null),
            ("classes", .integer(classes)),
            ("trainable_parameters", .integer(counts.total)),
            ("trainable_head_parameters", .integer(counts.head)),
            ("trainable_singular_values", .integer(counts.singularValues)),
            ("settings", .object(settings)),
            ("notes", .array(model.notes.map { .string($0) })),
            (
                "epochs",
                .array(
                    records.map { record in
                        .object([
                            ("epoch", .integer(record.epoch)), ("train_loss", number(record.trainLoss)),
                            ("train_accuracy", number(record.trainAccuracy)), ("eval_loss", number(record.evalLoss)),
                            ("eval_accuracy", number(record.evalAccuracy)),
                            ("examples_per_second", number(record.examplesPerSecond)),
                            ("learning_rate", number(record.learningRate)),
                        ])
                    })
            ),
            ("seconds", number(seconds)),
            ("outputs", .array(outputs.map { .string($0) })),
        ])
    }
}
