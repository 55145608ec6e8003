import Amalgam

/// A subcommand: what it takes (positionals and settings from the library's catalogue) and
/// how it runs. Its usage line and option list are generated from the settings.
protocol Command {
    static var name: String { get }
    static var summary: String { get }
    /// Positional arguments by placeholder (`IN`, `OUT`).
    static var positionals: [String] { get }
    /// Settings that must be given, shown first in the usage line.
    static var requiredSettings: [Setting] { get }
    static var settings: [Setting] { get }
    /// Free text after the option list. Lines starting with `  amalgam ` are examples; a
    /// test runs every one.
    static var discussion: String { get }
    init(_ arguments: ParsedArguments) throws
    func run() throws
}

extension Command {
    static var positionals: [String] { [] }
    static var requiredSettings: [Setting] { [] }
    static var discussion: String { "" }

    /// `amalgam convert IN OUT [--to FORMAT] ...`, wrapped at 110 columns.
    static var synopsis: String {
        var words = ["amalgam", name] + positionals
        for setting in requiredSettings {
            words.append(setting.synopsis)
            if setting.repeatable { words.append("[\(setting.synopsis) ...]") }
        }
        for setting in settings where !requiredSettings.contains(setting) {
            words.append("[\(setting.synopsis)\(setting.repeatable ? " ..." : "")]")
        }
        var lines: [String] = []
        var line = ""
        for word in words {
            if !line.isEmpty, line.count + 1 + word.count > 110 {
                lines.append(line)
                line = String(repeating: " ", count: 8)
            }
            line += (line.isEmpty || line.allSatisfy { $0 == " " } ? "" : " ") + word
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }

    static var help: String {
        var text = "\(summary)\n\nusage: \(synopsis)\n\noptions:\n"
        let labels = settings.map(\.optionLabel) + ["--help"]
        let width = labels.map(\.count).max() ?? 0
        for (label, help) in zip(labels, settings.map(\.helpText) + ["Show this help."]) {
            let lines = wrapped(help, width: max(40, 110 - width - 4))
            text += "  \(label)\(String(repeating: " ", count: width - label.count))  \(lines[0])\n"
            for line in lines.dropFirst() { text += String(repeating: " ", count: width + 4) + line + "\n" }
        }
        if !discussion.isEmpty { text += "\n\(discussion)\n" }
        return text
    }

    /// `text` in lines of at most `width` characters, broken at spaces.
    static func wrapped(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        return lines + [line]
    }

    /// The example command lines of `discussion` (continuation lines joined).
    static var examples: [String] {
        var result: [String] = []
        var pending: String?
        for line in discussion.split(separator: "\n", omittingEmptySubsequences: false) {
            let text = line.trimmingCharacters(in: " ")
            if let current = pending {
                pending = current + " " + text
            } else if text.hasPrefix("amalgam ") {
                pending = text
            }
            if let current = pending, !current.hasSuffix("\\") {
                result.append(current)
                pending = nil
            } else if let current = pending {
                pending = String(current.dropLast()).trimmingCharacters(in: " ")
            }
        }
        return result
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text = text.dropFirst() }
        while text.last == set { text = text.dropLast() }
        return String(text)
    }
}
