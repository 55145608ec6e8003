/// Builds merge methods from names and textual options (the CLI's and recipes').
public enum MergeMethods {
    public static let names = ["axis", "average", "task_arithmetic", "ties", "dare", "tsv"]

    /// The options each method accepts.
    public static let optionsByMethod: [String: Set<String>] = [
        "axis": ["k", "k-fraction", "exact-svd"],
        "average": [],
        "task_arithmetic": ["lambda"],
        "ties": ["density", "lambda"],
        "dare": ["drop", "lambda", "dare-ties"],
        "tsv": ["exact-svd"],
    ]

    /// - Parameters:
    ///   - options: option name (`k-fraction`; `_` is read as `-`) to value (`true` for flags).
    ///   - sourceCount: the default `lambda` of task arithmetic is 1 for one source, 0.3 otherwise.
    /// - Throws: `.usage` for unknown methods, options that do not apply, and bad values.
    public static func make(_ name: String, options: [String: String], sourceCount: Int) throws -> any MergeMethod {
        let method = String(name.lowercased().map { $0 == "-" ? "_" : $0 })
        guard let allowed = optionsByMethod[method] else {
            throw AmalgamError(.usage, "unknown merge method '\(name)' (known: \(names.joined(separator: ", ")))")
        }
        var values: [String: String] = [:]
        for (key, value) in options { values[String(key.map { $0 == "_" ? "-" : $0 })] = value }
        for key in values.keys.sorted() where !allowed.contains(key) {
            throw AmalgamError(.usage, "--\(key) does not apply to the \(method) method")
        }
        func number(_ key: String, default fallback: Double, in range: ClosedRange<Double>) throws -> Double {
            guard let text = values[key] else { return fallback }
            guard let value = Double(text), range.contains(value) else {
                throw AmalgamError(
                    .usage, "--\(key) must be a number in \(range.lowerBound)...\(range.upperBound), not '\(text)'")
            }
            return value
        }
        func flag(_ key: String) -> Bool { values[key].map { $0 != "false" } ?? false }
        switch method {
        case "axis":
            if values["k"] != nil && values["k-fraction"] != nil {
                throw AmalgamError(.usage, "give --k or --k-fraction, not both")
            }
            var count: Int?
            if let text = values["k"] {
                guard let k = Int(text), k > 0 else {
                    throw AmalgamError(.usage, "--k must be a positive whole number, not '\(text)'")
                }
                count = k
            }
            let fraction = count == nil ? try number("k-fraction", default: 0.1, in: 1e-9...1) : nil
            return AXISMerge(count: count, fraction: fraction, exactSVD: flag("exact-svd"))
        case "average":
            return AverageMerge()
        case "task_arithmetic":
            return TaskArithmeticMerge(
                lambda: Float(try number("lambda", default: sourceCount == 1 ? 1 : 0.3, in: -100...100)))
        case "ties":
            return TIESMerge(
                density: try number("density", default: 0.2, in: 1e-9...1),
                lambda: Float(try number("lambda", default: 1, in: -100...100)))
        case "dare":
            return DAREMerge(
                drop: try number("drop", default: 0.9, in: 0...0.999_999),
                lambda: Float(try number("lambda", default: 1, in: -100...100)), ties: flag("dare-ties"))
        default:
            return TSVMerge(exactSVD: flag("exact-svd"))
        }
    }
}
