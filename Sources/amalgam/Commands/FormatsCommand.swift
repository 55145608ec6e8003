import Amalgam

/// `amalgam formats`: the registered plugins and what each can do.
struct FormatsCommand: Command {
    static let name = "formats"
    static let summary = "List the model formats Amalgam reads and writes."
    static let synopsis = "amalgam formats [--json]"
    static let options: [OptionSpec] = [.flag("json", "Print a JSON array instead of a table.")]

    let json: Bool

    init(_ arguments: ParsedArguments) throws(UsageError) {
        _ = try arguments.positionals()
        json = arguments.flag("json")
    }

    func run() throws {
        let plugins = Amalgam.builtInFormats.plugins
        func abilities(_ capabilities: FormatCapabilities) -> [String] {
            var names: [String] = []
            if capabilities.contains(.read) { names.append("read") }
            if capabilities.contains(.write) { names.append("write") }
            if capabilities.contains(.sharding) { names.append("sharding") }
            if capabilities.contains(.quantization) { names.append("quantization") }
            return names
        }
        if json {
            let document = JSONValue.array(
                plugins.map { plugin in
                    .object([
                        ("identifier", .string(plugin.identifier)),
                        ("name", .string(plugin.displayName)),
                        ("extensions", .array(plugin.fileExtensions.map { .string($0) })),
                        ("capabilities", .array(abilities(plugin.capabilities).map { .string($0) })),
                    ])
                })
            Terminal.out(document.serialized(pretty: true))
            return
        }
        let rows =
            [["format", "read", "write", "extensions", "also"]]
            + plugins.map { plugin in
                [
                    plugin.identifier, plugin.capabilities.contains(.read) ? "yes" : "no",
                    plugin.capabilities.contains(.write) ? "yes" : "no",
                    plugin.fileExtensions.map { "." + $0 }.joined(separator: " "),
                    abilities(plugin.capabilities).filter { $0 != "read" && $0 != "write" }.joined(separator: ", "),
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
