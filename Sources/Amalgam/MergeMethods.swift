/// Builds merge methods from their names and settings (the command line's and recipes').
public enum MergeMethods {
    public static let names =
        ["axis", "average", "task_arithmetic", "ties", "dare", "tsv"] + mergekitOnlyNames.filter { $0 != "passthrough" }

    /// mergekit's methods that Amalgam has only with mergekit's semantics and parameters
    /// (`ties` and `task_arithmetic` are both: Amalgam's options on the command line, mergekit's
    /// per-model parameters in a mergekit configuration).
    public static let mergekitOnlyNames = [
        "linear", "slerp", "nuslerp", "multislerp", "karcher", "model_stock", "sce", "dare_ties", "dare_linear",
        "breadcrumbs", "breadcrumbs_ties", "della", "della_linear", "passthrough",
    ]

    /// Every method option; recipes give them under `options`.
    public static let settings: [Setting] = [
        .k, .kFraction, .exactSVD, .ranking, .perSourceQuota, .orthogonalize, .remainder, .lambda, .density, .drop,
        .dareTies, .parameter,
    ]

    /// The options each method takes.
    public static let settingsByMethod: [String: [Setting]] = [
        "axis": [.k, .kFraction, .exactSVD, .ranking, .perSourceQuota, .orthogonalize, .remainder],
        "average": [],
        "task_arithmetic": [.lambda],
        "ties": [.density, .lambda],
        "dare": [.drop, .lambda, .dareTies],
        "tsv": [.exactSVD],
    ].merging(mergekitOnlyNames.map { ($0, [Setting.parameter]) }) { first, _ in first }

    /// Methods that SVD-merge matrices (so `--skip` changes what they do).
    public static let svdMethods: Set<String> = ["axis", "tsv"]

    /// The method named `name` (`-` read as `_`) with its options from `values`.
    /// - Parameters:
    ///   - name: one of ``names``.
    ///   - values: the method's options (the command line, or a recipe's `options`).
    ///   - sourceCount: task arithmetic's default `lambda` is 1 for one source, 0.3 otherwise.
    /// - Throws: `.usage` for unknown methods, options of other methods, and bad combinations.
    public static func make(_ name: String, options values: SettingValues, sourceCount: Int) throws(AmalgamError)
        -> any MergeMethod
    {
        let method = canonicalName(name)
        guard let allowed = settingsByMethod[method] else {
            throw AmalgamError(.usage, "unknown merge method '\(name)' (known: \(names.joined(separator: ", ")))")
        }
        for setting in settings where values.has(setting) && !allowed.contains(setting) {
            throw AmalgamError(.usage, "\(values.label(setting)) does not apply to the \(method) method")
        }
        if mergekitOnlyNames.contains(method) {
            // On the command line every model gets the same parameters, weight 1 unless given.
            return try mergekitMethod(method, defaultWeight: 1, withoutBase: false)
        }
        switch method {
        case "axis":
            if values.has(.k) && values.has(.kFraction) {
                throw AmalgamError(.usage, "give \(values.label(.k)) or \(values.label(.kFraction)), not both")
            }
            let count = values.integer(.k)
            return AXISMerge(
                count: count, fraction: count == nil ? values.real(.kFraction) ?? AXISMerge.defaultFraction : nil,
                exactSVD: values.flag(.exactSVD),
                ranking: values.text(.ranking).flatMap(AXISMerge.Ranking.init(rawValue:)) ?? .value,
                perSourceQuota: values.flag(.perSourceQuota),
                orthogonalization: values.text(.orthogonalize).flatMap(AXISMerge.Orthogonalization.init(rawValue:))
                    ?? .svd,
                remainder: values.text(.remainder).flatMap(AXISMerge.Remainder.init(rawValue:)) ?? .none)
        case "average":
            return AverageMerge()
        case "task_arithmetic":
            return TaskArithmeticMerge(
                lambda: values.real(.lambda).map(Float.init)
                    ?? TaskArithmeticMerge.defaultLambda(sourceCount: sourceCount))
        case "ties":
            return TIESMerge(
                density: values.real(.density) ?? TIESMerge.defaultDensity,
                lambda: values.real(.lambda).map(Float.init) ?? TIESMerge.defaultLambda)
        case "dare":
            return DAREMerge(
                drop: values.real(.drop) ?? DAREMerge.defaultDrop,
                lambda: values.real(.lambda).map(Float.init) ?? DAREMerge.defaultLambda, ties: values.flag(.dareTies))
        default:
            return TSVMerge(exactSVD: values.flag(.exactSVD))
        }
    }

    /// The method `name` with mergekit's semantics. - Parameters:
    ///   - defaultWeight: the weight of a model that gives none (nil: required, as in mergekit).
    ///   - withoutBase: nuslerp and multislerp on the models' weights, the configuration
    ///     naming no base model.
    public static func mergekitMethod(_ name: String, defaultWeight: Double?, withoutBase: Bool) throws(AmalgamError)
        -> any MergeMethod
    {
        switch name {
        case "linear": return LinearMerge(defaultWeight: defaultWeight)
        case "slerp": return SLERPMerge()
        case "nuslerp": return NuSLERPMerge(withoutBase: withoutBase)
        case "multislerp": return MultiSLERPMerge(withoutBase: withoutBase)
        case "karcher": return KarcherMerge()
        case "model_stock": return ModelStockMerge()
        case "sce": return SCEMerge()
        case "passthrough": return PassthroughMerge()
        default:
            guard let method = GeneralizedTaskArithmeticMerge(mergekitName: name, defaultWeight: defaultWeight) else {
                throw AmalgamError(.usage, "unknown merge method '\(name)' (known: \(names.joined(separator: ", ")))")
            }
            return method
        }
    }

    /// `NAME=VALUE` (`--param`) as a parameter setting: a number, or true/false.
    public static func parameter(_ text: String, label: String) throws(AmalgamError) -> (String, ParameterSetting) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else {
            throw AmalgamError(.usage, "\(label) takes NAME=VALUE (weight=0.5, t=0.3, normalize=false), not '\(text)'")
        }
        switch parts[1].lowercased() {
        case "true": return (parts[0], .scalar(.flag(true)))
        case "false": return (parts[0], .scalar(.flag(false)))
        default:
            guard let number = Double(parts[1]), number.isFinite else {
                throw AmalgamError(.usage, "\(label) \(parts[0]): '\(parts[1])' is not a number, true or false")
            }
            return (parts[0], .scalar(.number(number)))
        }
    }

    /// Refuses parameters `method` does not take, naming them as `label` says.
    public static func checkParameters(
        _ names: [String], of method: any MergeMethod, label: (String) -> String
    ) throws(AmalgamError) {
        let known = method.parameterSpecs.map(\.name)
        for name in names where !known.contains(name) {
            throw AmalgamError(
                .usage,
                "\(label(name)) is not a parameter of \(method.name)\(Suggestion.hint(for: name, among: known)) (its parameters: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
            )
        }
    }

    /// `task-arithmetic` and `Task_Arithmetic` are `task_arithmetic`.
    static func canonicalName(_ name: String) -> String {
        String(name.lowercased().map { $0 == "-" ? "_" : $0 })
    }
}
