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
