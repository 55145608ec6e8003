import Amalgam

/// `amalgam inspect FILE`: format, counts, dtypes, metadata and every tensor.
struct InspectCommand: Command {
    static let name = "inspect"
    static let summary = "Describe a model file: format, tensors, parameters, dtypes and metadata."
    static let synopsis = "amalgam inspect FILE [--json] [--from FORMAT]"
    static let options: [OptionSpec] = [
        .flag("json", "Print a stable JSON document (schema amalgam.inspect/1)."),
        .option("from", "FORMAT", "Read FILE as this format instead of detecting it."),
    ]
    static let discussion = """
        FILE may be a model file, a sharded checkpoint's *.safetensors.index.json, or a folder
        holding one. Only headers are read; tensor data is not touched.
        """

    let path: String
    let json: Bool
    let format: String?

    init(_ arguments: ParsedArguments) throws(UsageError) {
        path = try arguments.positionals("FILE")[0]
        json = arguments.flag("json")
        format = try arguments.value("from")
    }

    func run() throws {
        let report = try InspectionReport(path: path, format: format)
        Terminal.out(json ? report.json.serialized(pretty: true) : report.text)
    }
}
