/// Builds merge methods from their names and settings (the command line's and recipes').
public enum MergeMethods {
    public static let names = ["axis", "average", "task_arithmetic", "ties", "dare", "tsv"]

    /// Every method option; recipes give them under `options`.
    public static let settings: [Setting] = [.k, .kFraction, .exactSVD, .lambda, .density, .drop, .dareTies]

    /// The options each method takes.
    public static let settingsByMethod: [String: [Setting]] = [
        "axis": [.k, .kFraction, .exactSVD],
        "average": [],
        "task_arithmetic": [.lambda],
        "ties": [.density, .lambda],
        "dare": [.drop, .lambda, .dareTies],
        "tsv": [.exactSVD],
    ]

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
        switch method {
        case "axis":
            if values.has(.k) && values.has(.kFraction) {
                throw AmalgamError(.usage, "give \(values.label(.k)) or \(values.label(.kFraction)), not both")
            }
            let count = values.integer(.k)
            return AXISMerge(
                count: count, fraction: count == nil ? values.real(.kFraction) ?? AXISMerge.defaultFraction : nil,
                exactSVD: values.flag(.exactSVD))
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

    /// `task-arithmetic` and `Task_Arithmetic` are `task_arithmetic`.
    static func canonicalName(_ name: String) -> String {
        String(name.lowercased().map { $0 == "-" ? "_" : $0 })
    }
}
