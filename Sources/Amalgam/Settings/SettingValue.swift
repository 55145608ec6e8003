/// A setting's value, checked against its declaration.
public enum SettingValue: Sendable, Hashable {
    case flag(Bool)
    case text(String)
    case integer(Int)
    case real(Double)
    case size(Int)
    case seed(UInt64)
}

extension Setting {
    /// Reads `text` (a command-line value) as this setting's value.
    /// - Throws: `.usage` saying what the value must be, under `label` (`--lr`, `tune.lr`).
    public func parse(_ text: String, label: String) throws(AmalgamError) -> SettingValue {
        func refuse() -> AmalgamError {
            AmalgamError(
                .usage, "\(label) must be \(requirement), not '\(text)'" + (advice[text].map { " (\($0))" } ?? ""))
        }
        switch kind {
        case .flag:
            guard let value = ["true": true, "false": false][text] else { throw refuse() }
            return .flag(value)
        case .text:
            return .text(text)
        case .choice(let words):
            guard words.contains(text) else { throw refuse() }
            return .text(text)
        case .integer(let range):
            guard let value = Int(text), range.contains(value) else { throw refuse() }
            return .integer(value)
        case .real(let range):
            guard let value = Double(text), value.isFinite, range.contains(value) else { throw refuse() }
            return .real(value)
        case .size:
            guard let bytes = ByteSize.parse(text) else { throw refuse() }
            try ByteSize.checkUnit(text, label: label)
            return .size(bytes)
        case .seed:
            guard let value = UInt64(text) else { throw refuse() }
            return .seed(value)
        }
    }

    /// Reads a recipe's JSON value as this setting's value: booleans for flags, numbers for
    /// numbers, strings for the rest (a number is also accepted where text is expected).
    public func decode(_ json: JSONValue, label: String) throws(AmalgamError) -> SettingValue {
        switch (kind, json) {
        case (.flag, .bool(let value)): return .flag(value)
        case (.integer, .number(let text)), (.real, .number(let text)), (.seed, .number(let text)),
            (.size, .number(let text)):
            return try parse(text, label: label)
        case (.text, .string(let text)), (.choice, .string(let text)), (.size, .string(let text)):
            return try parse(text, label: label)
        case (.text, .number(let text)):
            return .text(text)
        default:
            let shown = json.stringValue.map { "'\($0)'" } ?? json.serialized()
            throw AmalgamError(.usage, "\(label) must be \(requirement), not \(shown)")
        }
    }
}
