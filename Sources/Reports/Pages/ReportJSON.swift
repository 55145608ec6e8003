import AmalgamCore

/// Reading the reports' JSON: typed accessors that say what they expected when a field is
/// missing or of the wrong type, so a damaged report fails with one clear line.
struct ReportJSON {
    let value: JSONValue
    /// Where this value is, for messages (`tensors[3].shape`).
    let path: String

    init(_ value: JSONValue, path: String = "") {
        self.value = value
        self.path = path
    }

    func member(_ key: String) -> ReportJSON? {
        value[key].flatMap { $0 == .null ? nil : ReportJSON($0, path: path.isEmpty ? key : path + "." + key) }
    }

    func required(_ key: String) throws(AmalgamError) -> ReportJSON {
        guard let member = member(key) else { throw failure("has no '\(key)'") }
        return member
    }

    var string: String? { value.stringValue }
    var double: Double? { value.doubleValue }
    var int: Int? { value.doubleValue.flatMap { abs($0) < 1e15 ? Int(exactly: $0) : nil } }
    var items: [ReportJSON]? {
        value.arrayValue.map { items in items.enumerated().map { ReportJSON($1, path: "\(path)[\($0)]") } }
    }

    func requiredString(_ key: String) throws(AmalgamError) -> String {
        guard let text = try required(key).string else { throw failure("'\(key)' must be a string") }
        return text
    }

    func requiredItems(_ key: String) throws(AmalgamError) -> [ReportJSON] {
        guard let items = try required(key).items else { throw failure("'\(key)' must be an array") }
        return items
    }

    /// An array of numbers (nulls kept as nil).
    func numbers(_ key: String) throws(AmalgamError) -> [Double?]? {
        guard let member = member(key) else { return nil }
        guard let items = member.value.arrayValue else {
            throw failure("'\(key)' must be an array of numbers")
        }
        return try items.map { item throws(AmalgamError) -> Double? in
            if item == .null { return nil }
            guard let number = item.doubleValue else { throw failure("'\(key)' must be an array of numbers") }
            return number
        }
    }

    /// An array of whole numbers (shapes, source indices); anything else is refused.
    func integers(_ key: String) throws(AmalgamError) -> [Int]? {
        guard let values = try numbers(key) else { return nil }
        return try values.map { value throws(AmalgamError) -> Int in
            guard let value, let whole = Int(exactly: value), whole >= 0 else {
                throw failure("'\(key)' must be an array of whole numbers")
            }
            return whole
        }
    }

    /// A number in a report field may also be written as a string (`"NaN"`): both are read.
    func number(_ key: String) -> Double? {
        guard let member = member(key) else { return nil }
        return member.double ?? member.string.flatMap(Double.init)
    }

    /// A plain-text rendering of any value (settings, protocol entries).
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): text
        case .number(let text): text
        case .bool(let flag): flag ? "true" : "false"
        case .null: "—"
        default: value.serialized()
        }
    }

    func failure(_ message: String) -> AmalgamError {
        let location = path.isEmpty ? "" : " (at \(path))"
        return AmalgamError(.invalidFormat, "the report \(message)\(location)")
    }
}
