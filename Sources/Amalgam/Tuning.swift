import Dispatch
import Reports
@_exported import Tuning

extension TuningSetup {
    /// The classifier and Stage 2 settings in `values`; cross-field rules checked here.
    public init(_ values: SettingValues, mode: TrainingMode) throws(AmalgamError) {
        self.init(mode: mode)
        architecture = values.text(.architecture)
        activation = values.text(.activation).flatMap(Activation.init(rawValue:))
        transformer.heads = values.integer(.heads)
        transformer.pooling = values.text(.pooling).flatMap(Pooling.init(rawValue:))
        for setting in [Setting.activation, .heads, .pooling] where values.has(setting) {
            labels[setting.name] = values.label(setting)
        }
        if values.has(.svFraction) && values.has(.svCount) {
            throw AmalgamError(.usage, "give \(values.label(.svFraction)) or \(values.label(.svCount)), not both")
        }
        if let fraction = values.real(.svFraction) { singularValueCount = .fraction(fraction) }
        if let count = values.integer(.svCount) { singularValueCount = .count(count) }
        if let allocation = values.text(.svAllocation).flatMap(SingularValueAllocation.init(rawValue:)) {
            singularValueAllocation = allocation
        }
        if let start = values.text(.svInit).flatMap(SingularValueStart.init(rawValue:)) { singularValueStart = start }
        if let from = values.text(.subspace).flatMap(StageTwoSubspace.init(rawValue:)) { subspace = from }
    }
}

extension TrainingOptions {
    /// The training loop's settings in `values`, with `mode`'s defaults for the rest.
    public init(_ values: SettingValues, mode: TrainingMode) throws(AmalgamError) {
        self = TuningSetup(mode: mode).training
        epochs = values.integer(.epochs) ?? epochs
        learningRate = values.real(.learningRate) ?? learningRate
        headLearningRate = values.real(.headLearningRate) ?? headLearningRate
        batchSize = values.integer(.batch) ?? batchSize
        seed = values.seed(.seed) ?? seed
        weightDecay = values.real(.weightDecay) ?? weightDecay
        clipNorm = values.real(.clip) ?? clipNorm
        earlyStoppingPatience = values.integer(.earlyStopping)
    }
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
        let factorSet = try factors.map { path in
            try AmalgamError.withContext(file: path) { try FactorSet(graph: try registry.read(path).graph) }
        }
        return try tunableModel(
            try registry.read(model).graph, label: model, base: base, factors: factorSet, setup: setup,
            classes: classes, data: data, registry: registry)
    }

    static func tunableModel(
        _ graph: ModelGraph, label: String, base: String?, factors: FactorSet?, setup: TuningSetup, classes: Int?,
        data: [(Dataset, String)], registry: FormatRegistry
    ) throws -> TunableModel {
        let needed = data.map(\.0.classCount).max() ?? 0
        let classes =
            classes ?? TunableModel.headClassCount(in: graph).flatMap { $0 >= needed ? $0 : nil } ?? max(needed, 2)
        var baseGraph = try base.map { try registry.read($0).graph }
        var factors = factors
        if setup.mode == .singularValues, setup.subspace != .merge {
            // The model's own directions (or random ones) around its own weights.
            baseGraph = graph
            factors = try setup.subspace.factors(for: graph, count: setup.singularValueCount, seed: setup.training.seed)
        }
        let tunable = try AmalgamError.withContext(file: label) {
            try TunableModel(graph: graph, base: baseGraph, factors: factors, setup: setup, classes: classes)
        }
        for (dataset, path) in data { try tunable.check(dataset, path: path) }
        return tunable
    }

    /// Trains (Stage 2 singular values, the head, or everything), evaluates after each
    /// epoch, writes the trained dense model to every output and the JSON log, all together.
    public static func tune(_ options: TuneOptions, registry: FormatRegistry = Amalgam.builtInFormats) throws
        -> TuneOutcome
    {
        let outputs = OutputSet(
            overwrite: options.overwrite,
            protecting: identities(
                of: [options.model, options.base, options.factors, options.data, options.eval].compactMap { $0 }),
            warn: options.warn)
        var outcome = try tune(options, into: outputs, registry: registry)
        try outputs.commit()
        outcome.files = outputs.paths
        return outcome
    }

    /// Checks a tuning stage's output targets without reading anything.
    static func precheck(_ options: TuneOptions, outputs: OutputSet, registry: FormatRegistry) throws {
        guard !options.outputs.isEmpty else { throw AmalgamError(.usage, "training needs an --output") }
        for output in options.outputs {
            let writer = try output.writer(in: registry)
            _ = try writer.options(from: output.settings)
            if !output.isFolder { try outputs.checkTarget(output.writerPath(for: writer)) }
        }
        for path in [options.logPath, options.reportHTML].compactMap({ $0 }) { try outputs.checkTarget(path) }
    }

    /// Tuning into `outputs` (not committed). `model` and `factors`, when given, are used
    /// instead of reading `options.model` and `options.factors` (a recipe's merge hands its
    /// results on).
    static func tune(
        _ options: TuneOptions, into outputs: OutputSet, model: ModelGraph? = nil, factors: FactorSet? = nil,
        registry: FormatRegistry
    ) throws -> TuneOutcome {
        try precheck(options, outputs: outputs, registry: registry)
        let train = try dataset(options.data, registry: registry)
        let eval = try options.eval.map { try dataset($0, registry: registry) }
        var data = [(train, options.data)]
        if let eval, let path = options.eval { data.append((eval, path)) }
        let factorSet =
            try factors
            ?? options.factors.map { path in
                try AmalgamError.withContext(file: path) { try FactorSet(graph: try registry.read(path).graph) }
            }
        let model = try tunableModel(
            try model ?? registry.read(options.model).graph, label: options.model, base: options.base,
            factors: factorSet, setup: options.setup, classes: options.classes, data: data, registry: registry)
        // Plan the outputs on the model's structure before training: a bad output fails now.
        let structure = try model.trainedGraph()
        let planned = try PlannedOutputs(options.outputs, graph: structure, into: outputs, registry: registry)
        for path in [options.logPath, options.reportHTML].compactMap({ $0 }) { try outputs.reserve(path) }
        let classes = model.classes
        for note in model.notes { options.warn(note) }
        let start = DispatchTime.now().uptimeNanoseconds
        let records = try model.train(on: train, eval: eval, progress: options.progress)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9

        for line in planned.warnings { options.warn(line) }
        try planned.write(try model.trainedGraph(), into: outputs, progress: options.progress)
        let files = planned.files
        let log = tuneLog(
            options: options, model: model, records: records, seconds: seconds, classes: classes, outputs: files)
        if let path = options.logPath { try outputs.create(path).write(log.serialized(pretty: true) + "\n") }
        if let path = options.reportHTML {
            try outputs.create(path).write(
                try ReportPage.html([(label: options.logPath ?? "the training of \(options.model)", json: log)]))
        }
        return TuneOutcome(files: outputs.paths, records: records, counts: model.trainableCounts, log: log)
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
            ("head_learning_rate", number(setup.training.headLearningRate ?? setup.training.learningRate)),
            ("batch", .integer(setup.training.batchSize)), ("seed", .integer(Int(setup.training.seed))),
            ("weight_decay", number(setup.training.weightDecay)), ("clip_norm", number(setup.training.clipNorm)),
            ("schedule", .string("cosine, no warm-up")),
        ]
        if setup.mode == .singularValues {
            switch setup.singularValueCount {
            case .fraction(let f): settings.append(("sv_fraction", number(f)))
            case .count(let n): settings.append(("sv_count", .integer(n)))
            }
            settings.append(("sv_allocation", .string(setup.singularValueAllocation.rawValue)))
            settings.append(("sv_init", .string(setup.singularValueStart.rawValue)))
            settings.append(("subspace", .string(setup.subspace.rawValue)))
        }
        return .object([
            ("schema", .string("amalgam.tune-log/1")),
            ("mode", .string(setup.mode.rawValue)),
            ("architecture", .string(model.architecture)),
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
            (
                "singular_values",
                .array(
                    model.singularValueTraces.map { trace in
                        .object([
                            ("name", .string(trace.name)), ("merged", .numbers(trace.merged)),
                            ("trained", .numbers(trace.trained)),
                        ])
                    })
            ),
            ("seconds", number(seconds)),
            ("outputs", .array(outputs.map { .string($0) })),
        ])
    }
}
