/// A typed metadata value. Widths are kept so a GGUF key written back has its original type.
public indirect enum MetadataValue: Sendable, Hashable, CustomStringConvertible {
    case u8(UInt8)
    case i8(Int8)
    case u16(UInt16)
    case i16(Int16)
    case u32(UInt32)
    case i32(Int32)
    case u64(UInt64)
    case i64(Int64)
    case f32(Float)
    case f64(Double)
    case bool(Bool)
    case string(String)
    case array([MetadataValue])

    /// The value as text: strings verbatim, numbers in their shortest exact form, arrays
    /// as JSON. This is what formats with string-only metadata (safetensors) store.
    public var description: String {
        switch self {
        case .string(let text): text
        default: JSONValue(self).serialized()
        }
    }

    /// The integer value of any integer case, if it fits in `Int`.
    public var intValue: Int? {
        switch self {
        case .u8(let v): Int(v)
        case .i8(let v): Int(v)
        case .u16(let v): Int(v)
        case .i16(let v): Int(v)
        case .u32(let v): Int(v)
        case .i32(let v): Int(v)
        case .u64(let v): Int(exactly: v)
        case .i64(let v): Int(v)
        default: nil
        }
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }
}

/// Ordered key-value metadata: keys keep their first insertion order; assigning an existing
/// key replaces its value in place.
public struct Metadata: Sendable, Hashable, Sequence {
    public struct Entry: Sendable, Hashable {
        public let key: String
        public var value: MetadataValue
    }

    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    public init() {}

    public init(_ pairs: KeyValuePairs<String, MetadataValue>) {
        for (key, value) in pairs { self[key] = value }
    }

    public subscript(key: String) -> MetadataValue? {
        get { index[key].map { entries[$0].value } }
        set {
            if let position = index[key] {
                if let newValue {
                    entries[position].value = newValue
                } else {
                    entries.remove(at: position)
                    index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.key, $0) })
                }
            } else if let newValue {
                index[key] = entries.count
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }
    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }
}
