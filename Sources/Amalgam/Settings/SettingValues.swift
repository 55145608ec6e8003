/// The settings one command or recipe section was given, each with the name the user gave
/// it by (`--k`, `options.k`) so that messages point at what the user wrote.
public struct SettingValues: Sendable {
    public struct Given: Sendable {
        public let value: SettingValue
        public let label: String
    }

    private var given: [Setting: [Given]] = [:]
    /// Labels of settings in this section, by name, also for settings not given (so a
    /// message about a missing one can name it as the user would write it).
    private let labelStyle: @Sendable (Setting) -> String

    /// Values given on the command line (`--name`).
    public static func commandLine() -> SettingValues { SettingValues { "--" + $0.name } }

    /// Values from the recipe section at `path` (`tune`, `outputs[1]`; empty for the top).
    public static func recipe(_ path: String) -> SettingValues {
        SettingValues { path.isEmpty ? $0.recipeKey : path + "." + $0.recipeKey }
    }

    init(labelStyle: @escaping @Sendable (Setting) -> String) { self.labelStyle = labelStyle }

    /// How `setting` is named here.
    public func label(_ setting: Setting) -> String {
        given[setting]?.first?.label ?? labelStyle(setting)
    }

    /// Records a value. - Throws: `.usage` when a setting that is not repeatable comes twice.
    public mutating func add(_ value: SettingValue, for setting: Setting, label: String? = nil) throws(AmalgamError) {
        let label = label ?? labelStyle(setting)
        if !setting.repeatable, let earlier = given[setting], !earlier.isEmpty {
            throw AmalgamError(.usage, "option '\(label)' given \(earlier.count + 1) times")
        }
        given[setting, default: []].append(Given(value: value, label: label))
    }

    public func has(_ setting: Setting) -> Bool { !(given[setting] ?? []).isEmpty }

    /// Every value of a repeatable setting, in the order given.
    public func all(_ setting: Setting) -> [SettingValue] { given[setting]?.map(\.value) ?? [] }

    public func value(_ setting: Setting) -> SettingValue? { given[setting]?.first?.value }

    public func flag(_ setting: Setting) -> Bool {
        if case .flag(let on)? = value(setting) { return on }
        return false
    }

    public func text(_ setting: Setting) -> String? {
        if case .text(let text)? = value(setting) { return text }
        return nil
    }

    public func texts(_ setting: Setting) -> [String] {
        all(setting).compactMap { if case .text(let text) = $0 { text } else { nil } }
    }

    public func integer(_ setting: Setting) -> Int? {
        if case .integer(let number)? = value(setting) { return number }
        return nil
    }

    public func real(_ setting: Setting) -> Double? {
        switch value(setting) {
        case .real(let number)?: number
        case .integer(let number)?: Double(number)
        default: nil
        }
    }

    public func size(_ setting: Setting) -> Int? {
        if case .size(let bytes)? = value(setting) { return bytes }
        return nil
    }

    public func seed(_ setting: Setting) -> UInt64? {
        if case .seed(let seed)? = value(setting) { return seed }
        return nil
    }

    /// The value of a required setting. - Throws: `.usage` `missing --base BASE` (or the
    /// recipe key) with `why` appended.
    public func required(_ setting: Setting, why: String? = nil) throws(AmalgamError) -> String {
        guard let text = text(setting) else {
            let named = label(setting).hasPrefix("--") ? setting.synopsis : "'\(label(setting))'"
            throw AmalgamError(.usage, "missing \(named)" + (why.map { " (\($0))" } ?? ""))
        }
        return text
    }

    /// Refuses `setting` when it was given (it does not apply here).
    public func refuse(_ setting: Setting, because reason: String) throws(AmalgamError) {
        if has(setting) { throw AmalgamError(.usage, "\(label(setting)) \(reason)") }
    }
}
