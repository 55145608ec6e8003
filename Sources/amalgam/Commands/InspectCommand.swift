import Amalgam

/// `amalgam inspect FILE`: format, counts, dtypes, metadata and every tensor.
struct InspectCommand: Command {
    static let name = "inspect"
    static let summary = "Describe a model file: format, tensors, parameters, dtypes and metadata."
    static let synopsis = "amalgam inspect FILE [--json] [--verify] [--from FORMAT]"
    static let options: [OptionSpec] = [
        .flag("json", "Print a stable JSON document (schema amalgam.inspect/1)."),
        .flag("verify", "Also read every tensor completely (checksums, decompression) and count NaN/Inf values."),
        .option("from", "FORMAT", "Read FILE as this format instead of detecting it."),
    ]
    static let discussion = """
        FILE may be a model file, a sharded checkpoint's *.safetensors.index.json, or a folder
        holding one. Only headers are read unless --verify is given.
        """

    let path: String
    let json: Bool
    let verify: Bool
    let format: String?

    init(_ arguments: ParsedArguments) throws(UsageError) {
        path = try arguments.positionals("FILE")[0]
        json = arguments.flag("json")
        verify = arguments.flag("verify")
        format = try arguments.value("from")
    }

    func run() throws {
        let report = try InspectionReport(path: path, format: format)
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
            Terminal.out(report.text)
            Terminal.out(
                "  verified:    all \(checks.count) tensors read completely"
                    + (flagged.isEmpty ? "; no NaN or infinite values" : ""))
            for check in flagged { Terminal.out("    \(check.name): \(check.nonFinite!) NaN or infinite values") }
        }
    }
}
