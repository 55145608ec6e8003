import Amalgam

/// `amalgam inspect FILE`: format, counts, dtypes, metadata and every tensor.
struct InspectCommand: Command {
    static let name = "inspect"
    static let summary = "Describe a model file: format, tensors, parameters, dtypes and metadata."
    static let positionals = ["FILE"]
    static let settings: [Setting] = [.json, .verify, .from, .keepConstants, .threads]
    static let discussion = """
        FILE may be a model file, a sharded checkpoint's *.safetensors.index.json, or a folder
        holding a model (a Hugging Face folder). Only headers are read unless --verify is given;
        with --verify the exit status is 1 when a tensor holds NaN or infinite values.

        examples:
          amalgam inspect model.safetensors
          amalgam inspect model.gguf --json
          amalgam inspect model.safetensors --verify
        """

    let path: String
    let json: Bool
    let verify: Bool
    let format: String?
    let read: ReadOptions

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        path = try arguments.positionals(Self.positionals)[0]
        json = arguments.values.flag(.json)
        verify = arguments.values.flag(.verify)
        format = arguments.values.text(.from)
        read = ReadOptions(keepConstants: arguments.values.flag(.keepConstants))
    }

    func run() throws {
        let report = try InspectionReport(path: path, format: format, read: read)
        guard verify else {
            Terminal.out(json ? report.json.serialized(pretty: true) : report.text)
            return
        }
        let checks = try report.verify()
        let flagged = checks.filter { ($0.nonFinite ?? 0) > 0 }
        if json {
            guard case .object(var members) = report.json else { return }
            members.append(
                (
                    "verification",
                    .object([
                        ("tensors_read", .integer(checks.count)),
                        ("non_finite", .object(flagged.map { ($0.name, JSONValue.integer($0.nonFinite!)) })),
                    ])
                ))
            Terminal.out(JSONValue.object(members).serialized(pretty: true))
        } else {
            var verdict = "  verified:    all \(checks.count) tensors read completely"
            if flagged.isEmpty {
                verdict += "; no NaN or infinite values"
            } else {
                let values = flagged.reduce(0) { $0 + $1.nonFinite! }
                verdict +=
                    "; \(InspectionReport.grouped(values)) NaN or infinite values in \(flagged.count) tensor\(flagged.count == 1 ? "" : "s"):"
                for check in flagged { verdict += "\n    \(check.name): \(check.nonFinite!)" }
            }
            Terminal.out(report.text(verdict: verdict))
        }
        if !flagged.isEmpty {
            throw AmalgamError(
                .invalidFormat,
                "\(flagged.count) tensor\(flagged.count == 1 ? " holds" : "s hold") NaN or infinite values",
                file: path, tensor: flagged.count == 1 ? flagged[0].name : nil)
        }
    }
}
