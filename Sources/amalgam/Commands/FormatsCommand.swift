import Amalgam

/// `amalgam formats`: the registered plugins and what each can do.
struct FormatsCommand: Command {
    static let name = "formats"
    static let summary = "List the model formats Amalgam reads and writes."
    static let settings: [Setting] = [.json]
    static let discussion = """
        example:
          amalgam formats --json
        """

    let json: Bool

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        _ = try arguments.positionals([])
        json = arguments.values.flag(.json)
    }

    /// What a plugin can do, from the protocols it conforms to and the settings its writer takes.
    static func abilities(_ plugin: any FormatPlugin) -> [String] {
        var names: [String] = []
        if plugin is any FormatReader { names.append("read") }
        if let writer = plugin as? any FormatWriter {
            names.append("write")
            if writer.accepts(.maximumShardSize) { names.append("sharding") }
            if writer.accepts(.quant) { names.append("quantization") }
        }
        return names
    }

    func run() throws {
        let plugins = Amalgam.builtInFormats.plugins
        let abilities = Self.abilities
        if json {
            let document = JSONValue.array(
                plugins.map { plugin in
                    .object([
                        ("identifier", .string(plugin.identifier)),
                        ("name", .string(plugin.displayName)),
                        ("extensions", .array(plugin.fileExtensions.map { .string($0) })),
                        ("capabilities", .array(abilities(plugin).map { .string($0) })),
                    ])
                })
            Terminal.out(document.serialized(pretty: true))
            return
        }
        let rows =
            [["format", "read", "write", "extensions", "also"]]
            + plugins.map { plugin in
                [
                    plugin.identifier, abilities(plugin).contains("read") ? "yes" : "no",
                    abilities(plugin).contains("write") ? "yes" : "no",
                    plugin.fileExtensions.map { "." + $0 }.joined(separator: " "),
                    abilities(plugin).filter { $0 != "read" && $0 != "write" }.joined(separator: ", "),
                ]
            }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max()! }
        for row in rows {
            Terminal.out(
                row.enumerated().map { $1 + String(repeating: " ", count: widths[$0] - $1.count) }.joined(
                    separator: "  "
                ).trimmingTrailingSpaces)
        }
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
