import Amalgam

/// `amalgam verify FILE...`: every rule of each file's format checked, all problems listed.
struct VerifyCommand: Command {
    static let name = "verify"
    static let summary = "Check model files against every rule of their format and list all problems."
    static let positionals = ["FILE..."]
    static let settings: [Setting] = [.strict, .json, .from, .keepConstants, .threads]
    static let discussion = """
        Each FILE's structure is checked against every rule of its format and, when sound, every
        tensor is read completely (checksums, decompression). Every problem is listed, one line
        each naming the file, tensor and byte offset, not only the first. --strict adds what
        readers tolerate but the reference writers never write. The exit status is 1 when any
        file has a problem.

        examples:
          amalgam verify model.safetensors
          amalgam verify model.gguf b.npz --strict
          amalgam verify model.safetensors --json
        """

    let paths: [String]
    let strict: Bool
    let json: Bool
    let format: String?
    let read: ReadOptions

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        paths = arguments.positionals
        guard !paths.isEmpty else { throw AmalgamError(.usage, "missing FILE") }
        strict = arguments.values.flag(.strict)
        json = arguments.values.flag(.json)
        format = arguments.values.text(.from)
        read = ReadOptions(keepConstants: arguments.values.flag(.keepConstants))
    }

    func run() throws {
        let results = paths.map { FileVerification(path: $0, format: format, strict: strict, read: read) }
        if json {
            Terminal.out(JSONValue.object([("files", .array(results.map(\.json)))]).serialized(pretty: true))
        } else {
            for result in results { Terminal.out(Self.text(result)) }
        }
        let failing = results.filter { !$0.problems.isEmpty }
        guard failing.isEmpty else {
            let count = failing.reduce(0) { $0 + $1.problems.count }
            throw AmalgamError(
                .invalidFormat,
                "\(count) problem\(count == 1 ? "" : "s") in \(failing.count) of \(results.count) file\(results.count == 1 ? "" : "s")",
                file: failing.count == 1 ? failing[0].path : nil)
        }
    }

    /// `FILE: ok (safetensors, 12 tensors read)` or `FILE: 3 problems (...)` and one line per problem.
    static func text(_ result: FileVerification) -> String {
        let format = result.format ?? "unknown format"
        let tensors = result.tensorCount.map { "\(result.tensorsRead) of \($0) tensors read" } ?? "tensors not read"
        var lines: [String] = []
        if result.problems.isEmpty {
            lines.append("\(result.path): ok (\(format), \(tensors)\(result.strict ? ", strict" : ""))")
        } else {
            let count = result.problems.count
            lines.append("\(result.path): \(count) problem\(count == 1 ? "" : "s") (\(format), \(tensors))")
            for fault in result.faults { lines.append("  error: \(fault)") }
            for departure in result.departures { lines.append("  strict: \(departure)") }
        }
        if !result.strict, !result.nonFinite.isEmpty {
            let values = result.nonFinite.reduce(0) { $0 + $1.count }
            lines.append(
                "  note: \(values) NaN or infinite value\(values == 1 ? "" : "s") in \(result.nonFinite.count) tensor\(result.nonFinite.count == 1 ? "" : "s") (--strict counts them as problems)"
            )
        }
        return lines.joined(separator: "\n")
    }
}
