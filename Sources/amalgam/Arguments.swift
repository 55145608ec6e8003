import Amalgam

/// A usage mistake: printed with a hint to `--help`, exit code 64.
struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// One `--option` a command accepts.
struct OptionSpec {
    let name: String
    /// Placeholder of the value (`SIZE`), or nil for a flag.
    let value: String?
    let help: String

    static func flag(_ name: String, _ help: String) -> OptionSpec { OptionSpec(name: name, value: nil, help: help) }
    static func option(_ name: String, _ value: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, value: value, help: help)
    }
}

/// Arguments after the subcommand, split into positionals, option values and flags.
/// Accepts `--name value`, `--name=value`, and `--` to end options.
struct ParsedArguments {
    var positionals: [String] = []
    var values: [String: [String]] = [:]
    var flags: Set<String> = []
    var wantsHelp = false

    init(_ arguments: [String], options: [OptionSpec], command: String) throws(UsageError) {
        let known = Dictionary(uniqueKeysWithValues: options.map { ($0.name, $0) })
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if optionsEnded || !argument.hasPrefix("-") || argument == "-" {
                positionals.append(argument)
                continue
            }
            if argument == "--" {
                optionsEnded = true
                continue
            }
            if argument == "--help" || argument == "-h" {
                wantsHelp = true
                continue
            }
            var name = String(argument.drop { $0 == "-" })
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let spec = known[name] else {
                throw UsageError("unknown option '\(argument)' for 'amalgam \(command)'")
            }
            if spec.value == nil {
                guard inlineValue == nil else { throw UsageError("option '--\(name)' takes no value") }
                flags.insert(name)
            } else {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard index < arguments.count else {
                        throw UsageError("option '--\(name)' needs a value (\(spec.value!))")
                    }
                    value = arguments[index]
                    index += 1
                }
                values[name, default: []].append(value)
            }
        }
    }

    /// The single value of `name`; a repeated option is a usage error.
    func value(_ name: String) throws(UsageError) -> String? {
        guard let all = values[name] else { return nil }
        guard all.count == 1 else { throw UsageError("option '--\(name)' given \(all.count) times") }
        return all[0]
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// Exactly `names.count` positionals, else a usage error naming what is missing.
    func positionals(_ names: String...) throws(UsageError) -> [String] {
        if positionals.count < names.count {
            throw UsageError("missing \(names[positionals.count])")
        }
        if positionals.count > names.count {
            throw UsageError("unexpected argument '\(positionals[names.count])'")
        }
        return positionals
    }
}

/// The output options `convert` and `merge` share: `--dtype`, `--max-shard-size`,
/// `--compress`, `--keep-dtype`, `--quant`, `--template`, `--external-data`.
struct OutputArguments {
    var dtype: DType?
    var maximumShardBytes: Int?
    /// Writer options by name (`compress`, `keep-dtype`).
    var writerOptions: [String: String] = [:]

    init(_ arguments: ParsedArguments) throws(UsageError) {
        if let name = try arguments.value("dtype") {
            guard let dtype = DType(name: name), [.f32, .f16, .bf16].contains(dtype) else {
                throw UsageError("--dtype must be f32, f16 or bf16, not '\(name)'")
            }
            self.dtype = dtype
        }
        if let size = try arguments.value("max-shard-size") {
            guard let bytes = ByteSize.parse(size) else {
                throw UsageError("--max-shard-size must be a size such as 5GB, 500MB or 1048576, not '\(size)'")
            }
            maximumShardBytes = bytes
        }
        for flag in ["compress", "keep-dtype", "external-data"] where arguments.flag(flag) {
            writerOptions[flag] = "true"
        }
        if let template = try arguments.value("template") { writerOptions["template"] = template }
        if let quant = try arguments.value("quant") {
            guard Amalgam.quantizationChoices.contains(quant.lowercased()) else {
                throw UsageError(
                    "--quant must be one of \(Amalgam.quantizationChoices.joined(separator: ", ")), not '\(quant)'")
            }
            writerOptions["quant"] = quant.lowercased()
        }
    }
}

/// A subcommand: parses its own arguments and runs.
protocol Command {
    static var name: String { get }
    static var summary: String { get }
    /// The synopsis line(s) after `usage:`.
    static var synopsis: String { get }
    /// Free text after the option list (examples, notes).
    static var discussion: String { get }
    static var options: [OptionSpec] { get }
    init(_ arguments: ParsedArguments) throws(UsageError)
    func run() throws
}

extension Command {
    static var discussion: String { "" }

    static var help: String {
        var text = "\(summary)\n\nusage: \(synopsis)\n"
        let all = options + [.flag("help", "Show this help.")]
        text += "\noptions:\n"
        let labels = all.map { "--\($0.name)" + ($0.value.map { " \($0)" } ?? "") }
        let width = labels.map(\.count).max() ?? 0
        for (label, option) in zip(labels, all) {
            text += "  \(label)\(String(repeating: " ", count: width - label.count))  \(option.help)\n"
        }
        if !discussion.isEmpty { text += "\n\(discussion)\n" }
        return text
    }
}
