/// A JSON document with object keys in their original order. Numbers keep their literal
/// text so 64-bit integers are never rounded through a double.
public indirect enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(serialized())
    }

    /// A number from an integer.
    public static func integer<T: BinaryInteger>(_ value: T) -> JSONValue { .number(String(value)) }

    /// An array of finite floats, each in its shortest round-trip text (non-finite ones are null).
    public static func numbers(_ values: some Sequence<Float>) -> JSONValue {
        .array(values.map { $0.isFinite ? .number("\($0)") : .null })
    }

    /// The member named `key` of an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    /// The value as an unsigned integer, when it is a JSON integer literal in range.
    public var uint64Value: UInt64? {
        if case .number(let text) = self { return UInt64(text) }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let text) = self { return Double(text) }
        return nil
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var objectValue: [(key: String, value: JSONValue)]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// A short name of the JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

extension JSONValue {
    /// Converts typed metadata to JSON (non-finite floats become the strings `NaN`,
    /// `Infinity`, `-Infinity`, which JSON cannot spell as numbers).
    public init(_ value: MetadataValue) {
        switch value {
        case .u8(let v): self = .integer(v)
        case .i8(let v): self = .integer(v)
        case .u16(let v): self = .integer(v)
        case .i16(let v): self = .integer(v)
        case .u32(let v): self = .integer(v)
        case .i32(let v): self = .integer(v)
        case .u64(let v): self = .integer(v)
        case .i64(let v): self = .integer(v)
        case .f32(let v): self = JSONValue.floatingPoint(Double(v), text: "\(v)")
        case .f64(let v): self = JSONValue.floatingPoint(v, text: "\(v)")
        case .bool(let v): self = .bool(v)
        case .string(let v): self = .string(v)
        case .array(let items): self = .array(items.map(JSONValue.init))
        }
    }

    private static func floatingPoint(_ value: Double, text: String) -> JSONValue {
        if value.isNaN { return .string("NaN") }
        if value.isInfinite { return .string(value > 0 ? "Infinity" : "-Infinity") }
        return .number(text)
    }
}
