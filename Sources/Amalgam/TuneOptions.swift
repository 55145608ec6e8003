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
    public var outputs: [ModelOutput]
    /// The JSON log; default: the first output's path + `.log.json`.
    public var log: String?
    /// The log as an HTML page with the curves (`--report-html`).
    public var reportHTML: String?
    public var overwrite = false
    public var progress: any ProgressReporter = SilentProgress()
    public var warn: @Sendable (String) -> Void = { _ in }

    public init(model: String, data: String, setup: TuningSetup, outputs: [ModelOutput]) {
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

    /// The training settings of `tune` and `train` (with their model's and outputs').
    public static let trainingSettings: [Setting] = [
        .data, .eval, .epochs, .learningRate, .headLearningRate, .batch, .seed, .weightDecay, .clip, .earlyStopping,
        .log, .reportHTML, .threads,
        .force,
    ]
    /// Stage 2's own settings.
    public static let stageTwoSettings: [Setting] = [
        .subspace,
        .tuneBase, .tuneFactors, .merged, .tuneMode, .svFraction, .svCount, .svAllocation, .svInit,
    ]
    /// How the classifier is built (`tune`, `train`, `eval`, `forward`).
    public static let modelSettings: [Setting] = [.architecture, .activation, .heads, .pooling, .labels]

    /// Reads `tune` or `train` options from `values`, the outputs already read.
    /// - Parameters:
    ///   - values: the settings given (the command line, or a recipe's `tune` section).
    ///   - model: the model to train (train's MODEL); nil reads tune's `--merged`.
    ///   - modeSetting: `.tuneMode` (default sv) or `.trainMode` (default full).
    ///   - outputs: where the trained model goes.
    ///   - readsStageTwoInputs: Stage 2's base and factors come from `values` (not from a
    ///     recipe's merge).
    public init(
        _ values: SettingValues, model: String?, mode modeSetting: Setting, outputs: [ModelOutput],
        readsStageTwoInputs: Bool = true
    ) throws(AmalgamError) {
        let modeName = values.text(modeSetting) ?? modeSetting.defaultText ?? "full"
        guard let mode = TrainingMode(rawValue: modeName) else {
            throw AmalgamError(
                .usage, "\(values.label(modeSetting)) must be \(modeSetting.requirement), not '\(modeName)'")
        }
        let subspace = values.text(.subspace).flatMap(StageTwoSubspace.init(rawValue:)) ?? .merge
        let trained: String
        if let model {
            trained = model
        } else if subspace != .merge, !values.has(.merged), let base = values.text(.tuneBase) {
            trained = base  // the base's own (or random) directions: the base is what trains
        } else {
            trained = try values.required(.merged)
        }
        let data = try values.required(.data)
        var setup = try TuningSetup(values, mode: mode)
        setup.training = try TrainingOptions(values, mode: mode)
        self.init(model: trained, data: data, setup: setup, outputs: outputs)
        if readsStageTwoInputs, mode == .singularValues, setup.subspace == .merge {
            base = try values.required(.tuneBase, why: "singular-value tuning needs W0")
            factors = try values.required(.tuneFactors, why: "from amalgam merge --factors")
        } else if setup.subspace != .merge {
            try values.refuse(
                .tuneFactors,
                because:
                    "does not go with --subspace \(setup.subspace.rawValue): the directions are made from the model")
        }
        classes = values.integer(.labels)
        eval = values.text(.eval)
        log = values.text(.log)
        reportHTML = values.text(.reportHTML)
        overwrite = values.flag(.force)
    }
}
