/// One setting a user can give, declared once: its command-line name, its recipe key, the
/// kind of value it takes (with the allowed values or range), its default and its help. The
/// command line, `--help` and recipes all read these declarations (see `Setting+Catalogue`),
/// so a setting is checked the same way and described the same way wherever it is given.
public struct Setting: Sendable, Hashable, CustomStringConvertible {
    /// The command-line name without dashes (`sv-fraction`).
    public let name: String
    /// The key in recipe files (`sv_fraction`).
    public let recipeKey: String
    public let kind: Kind
    /// The value's placeholder in help (`F`); nil for flags.
    public let placeholder: String?
    public let help: String
    /// The default as help shows it (`0.1`); nil when there is none to show.
    public let defaultText: String?
    /// May be given several times (`--source`); a recipe gives an array.
    public let repeatable: Bool
    /// What to tell a user who gives one of these refused values (`sv` to `train --train`).
    public let advice: [String: String]
    /// A one-letter alias on the command line (`o` for `-o`), if any.
    public let shortName: Character?

    /// What a setting's value is.
    public enum Kind: Sendable, Hashable {
        /// Present or not (`--force`); `true`/`false` in recipes.
        case flag
        /// Any text (a path, a format name).
        case text
        /// One of these words.
        case choice([String])
        /// A whole number in the range.
        case integer(ClosedRange<Int>)
        /// A real number in the range.
        case real(RealRange)
        /// A byte size with a unit (`5GB`, `500MiB`).
        case size
        /// A non-negative 64-bit seed.
        case seed
    }

    /// The ranges real-valued settings use.
    public enum RealRange: Sendable, Hashable {
        case closed(ClosedRange<Double>)
        /// Above `lower`, at most `upper`: `(0, 1]`.
        case openClosed(lower: Double, upper: Double)

        func contains(_ value: Double) -> Bool {
            switch self {
            case .closed(let range): range.contains(value)
            case .openClosed(let lower, let upper): value > lower && value <= upper
            }
        }

        /// `a number in 0.0...10.0`, `in (0, 1]`.
        var phrase: String {
            switch self {
            case .closed(let range): "a number in \(range.lowerBound)...\(range.upperBound)"
            case .openClosed(let lower, let upper): "in (\(Setting.plain(lower)), \(Setting.plain(upper))]"
            }
        }
    }

    public init(
        _ name: String, _ kind: Kind, placeholder: String? = nil, default defaultText: String? = nil,
        recipeKey: String? = nil, repeatable: Bool = false, advice: [String: String] = [:], shortName: Character? = nil,
        help: String
    ) {
        self.advice = advice
        self.shortName = shortName
        self.name = name
        self.kind = kind
        self.placeholder = kind == .flag ? nil : placeholder ?? Setting.defaultPlaceholder(kind)
        self.defaultText = defaultText
        self.recipeKey = recipeKey ?? String(name.map { $0 == "-" ? "_" : $0 })
        self.repeatable = repeatable
        self.help = help
    }

    public var description: String { "--" + name }

    /// The flag as usage lines and messages print it: `--lr F`.
    public var synopsis: String { "--" + name + (placeholder.map { " " + $0 } ?? "") }

    /// The flag as the option list prints it, with its short alias: `-o, --output FILE`.
    public var optionLabel: String { (shortName.map { "-\($0), " } ?? "") + synopsis }

    /// The help line's text, with the default when there is one.
    public var helpText: String {
        guard let defaultText else { return help }
        return (help.hasSuffix(".") ? String(help.dropLast()) : help) + " (default: \(defaultText))."
    }

    /// What the value must be, as error messages say it: `f32, f16 or bf16`,
    /// `a positive whole number`.
    public var requirement: String {
        switch kind {
        case .flag: "true or false"
        case .text: "text"
        case .choice(let words): Setting.alternatives(words)
        case .integer(let range): Setting.phrase(range)
        case .real(let range): range.phrase
        case .size: "a size such as 5GB, 500MB or 1048576"
        case .seed: "a non-negative whole number"
        }
    }

    static func defaultPlaceholder(_ kind: Kind) -> String {
        switch kind {
        case .flag: ""
        case .text: "TEXT"
        case .choice: "NAME"
        case .integer, .seed: "N"
        case .real: "F"
        case .size: "SIZE"
        }
    }

    /// `a, b or c` for up to four words, `one of a, b, c, d, e` beyond.
    static func alternatives(_ words: [String]) -> String {
        guard words.count > 1 else { return words.first ?? "" }
        guard words.count <= 4 else { return "one of " + words.joined(separator: ", ") }
        return words.dropLast().joined(separator: ", ") + " or " + words.last!
    }

    static func phrase(_ range: ClosedRange<Int>) -> String {
        switch (range.lowerBound, range.upperBound) {
        case (1, Int.max): "a positive whole number"
        case (0, Int.max): "a non-negative whole number"
        case (let low, Int.max): "a whole number of at least \(low)"
        case (let low, let high): "a whole number from \(low) to \(high)"
        }
    }

    /// `1` for 1.0, `0.5` for 0.5.
    static func plain(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
