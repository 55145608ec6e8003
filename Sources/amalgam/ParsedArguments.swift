import Amalgam

/// A command's arguments after the subcommand: positionals, and the settings it declares,
/// each value checked as the setting requires (`Setting.parse`). Accepts `--name value`,
/// `--name=value`, and `--` to end options.
struct ParsedArguments {
    var positionals: [String] = []
    var values = SettingValues.commandLine()
    var wantsHelp = false
    /// Each option as it was written (`["--source", "a.gguf"]`), in order, by its setting:
    /// what a sharded merge passes on to its other commands.
    var written: [(setting: Setting, tokens: [String])] = []

    init(_ arguments: [String], settings: [Setting], command: String) throws(AmalgamError) {
        let known = Dictionary(settings.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
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
            if !argument.hasPrefix("--"), name.count == 1,
                let setting = settings.first(where: { $0.shortName == name.first })
            {
                name = setting.name  // -o FILE is --output FILE
            }
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let setting = known[name] else {
                let hint = Suggestion.hint(for: name, among: known.keys, prefix: "--")
                throw AmalgamError(.usage, "unknown option '\(argument)' for 'amalgam \(command)'\(hint)")
            }
            if setting.kind == .flag {
                guard inlineValue == nil else { throw AmalgamError(.usage, "option '--\(name)' takes no value") }
                try values.add(.flag(true), for: setting)
                written.append((setting, ["--" + setting.name]))
            } else {
                let text: String
                if let inlineValue {
                    text = inlineValue
                } else {
                    guard index < arguments.count else {
                        throw AmalgamError(
                            .usage, "option '--\(name)' needs a value (\(setting.placeholder ?? "VALUE"))")
                    }
                    text = arguments[index]
                    index += 1
                }
                try values.add(try setting.parse(text, label: "--" + name), for: setting)
                written.append((setting, ["--" + setting.name, text]))
            }
        }
    }

    /// The options as written, leaving out those of `settings`.
    func arguments(without settings: [Setting]) -> [String] {
        written.filter { !settings.contains($0.setting) }.flatMap(\.tokens)
    }

    /// Exactly `names.count` positionals, else a usage error naming what is missing.
    func positionals(_ names: [String]) throws(AmalgamError) -> [String] {
        if positionals.count < names.count {
            throw AmalgamError(.usage, "missing \(names[positionals.count])")
        }
        if positionals.count > names.count {
            throw AmalgamError(.usage, "unexpected argument '\(positionals[names.count])'")
        }
        return positionals
    }
}
