import AmalgamCore

/// One training run of the benchmark: a method adapting to a target at one N and seed,
/// from one variant of the sources.
public struct TransferRun: Sendable, Hashable {
    public let target: String
    public let method: TransferMethod
    /// N; nil for the linear probe and full fine-tuning, which do not depend on it.
    public let fraction: Double?
    public let seed: UInt64
    public let variant: TransferVariant

    /// The run's cache file name.
    var key: String {
        [
            variant.key, target, method.rawValue, fraction.map { "N\(Int(($0 * 100).rounded()))" } ?? "all",
            "seed\(seed)",
        ]
        .joined(separator: "_")
    }
}

/// What a run measured.
public struct TransferResult: Sendable {
    public let run: TransferRun
    /// Accuracy on the target's test set.
    public let accuracy: Double
    public let trainable: Int
    public let seconds: Double
    /// What the trained subspace holds (Stage 2 runs of the standard sources; nil for the
    /// others and for results cached before it was measured).
    let diagnostics: SubspaceDiagnostics?

    var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("target", .string(run.target)), ("method", .string(run.method.rawValue)),
            ("fraction", run.fraction.map { .number("\($0)") } ?? .null), ("seed", .integer(run.seed)),
            ("variant", .string(run.variant.key)), ("accuracy", .number(ZooManifest.decimal(accuracy))),
            ("trainable_parameters", .integer(trainable)), ("seconds", .number(ZooManifest.decimal(seconds))),
        ]
        if let diagnostics { members.append(("diagnostics", diagnostics.json)) }
        return .object(members)
    }

    init(run: TransferRun, accuracy: Double, trainable: Int, seconds: Double, diagnostics: SubspaceDiagnostics? = nil) {
        self.run = run
        self.accuracy = accuracy
        self.trainable = trainable
        self.seconds = seconds
        self.diagnostics = diagnostics
    }

    /// A cached result of `run`, or nil when the JSON is not one.
    init?(json: JSONValue, run: TransferRun) {
        guard json["target"]?.stringValue == run.target, json["method"]?.stringValue == run.method.rawValue,
            let accuracy = json["accuracy"]?.doubleValue, let trainable = json["trainable_parameters"]?.uint64Value,
            let seconds = json["seconds"]?.doubleValue
        else { return nil }
        self.init(
            run: run, accuracy: accuracy, trainable: Int(trainable), seconds: seconds,
            diagnostics: SubspaceDiagnostics(json: json["diagnostics"]))
    }
}
