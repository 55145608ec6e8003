import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Malformed safetensors files, one per rule of the format (FORMATS.md) and per known
/// attack, each with the text its error message must contain.
public enum MalformedSafetensors {
    public struct Case: CustomTestStringConvertible, Sendable {
        public let label: String
        public let bytes: [UInt8]
        public let message: String
        public var testDescription: String { label }
    }

    static let f32x2 = [UInt8](repeating: 0, count: 8)

    public static let cases: [Case] = [
        Case(label: "empty file", bytes: [], message: "file is 0 bytes, too short for the 8-byte header length"),
        Case(label: "short file", bytes: [1, 2, 3], message: "too short"),
        Case(
            label: "absurd header length", bytes: Scratch.safetensors(header: "{}", data: [], declaredLength: 1 << 40),
            message: "header length 1099511627776 exceeds the limit of 100000000 bytes"),
        Case(
            label: "header past end", bytes: Scratch.safetensors(header: "{}", data: [], declaredLength: 50),
            message: "header length 50 runs past the end of the 10-byte file"),
        Case(
            label: "not JSON", bytes: Scratch.safetensors(header: "{nope}", data: []),
            message: "header: invalid JSON: expected a string key"),
        Case(
            label: "invalid UTF-8",
            bytes: Scratch.safetensors(header: "{\"\u{00e9}\":1}", data: []).enumerated().map {
                $0.offset == 10 ? 0xFF : $0.element
            }, message: "invalid UTF-8"),
        Case(
            label: "not an object", bytes: Scratch.safetensors(header: "[]", data: []),
            message: "header does not start with '{'"),
        Case(
            label: "duplicate names",
            bytes: Scratch.safetensors(
                header:
                    #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                data: f32x2), message: "duplicate key \"a\""),
        Case(
            label: "unknown dtype",
            bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}"#, data: f32x2),
            message: "unknown dtype 'F7'"),
        Case(
            label: "unsupported dtype",
            bytes: Scratch.safetensors(
                header: #"{"a":{"dtype":"F8_E8M0","shape":[8],"data_offsets":[0,8]}}"#, data: f32x2),
            message: "dtype F8_E8M0 is not supported"),
        Case(
            label: "negative dimension",
            bytes: Scratch.safetensors(
                header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: f32x2),
            message: "holds something other than a non-negative integer"),
        Case(
            label: "overflowing shape",
            bytes: Scratch.safetensors(
                header: #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: f32x2),
            message: "overflows"),
        Case(
            label: "byte size overflow",
            bytes: Scratch.safetensors(
                header: #"{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}"#, data: f32x2),
            message: "byte size of shape [2305843009213693952] overflows"),
        Case(
            label: "size mismatch",
            bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: f32x2),
            message: "data_offsets [0, 8] hold 8 bytes but F32 [3] needs 12"),
        Case(
            label: "gap",
            bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: f32x2),
            message: "leaves a gap of 4 bytes"),
        Case(
            label: "overlap",
            bytes: Scratch.safetensors(
                header:
                    #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                data: f32x2), message: "overlaps the tensor before it"),
        Case(
            label: "truncated data",
            bytes: Scratch.safetensors(
                header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: f32x2),
            message: "run past the end of the data section (8 bytes): file truncated?"),
        Case(
            label: "trailing bytes",
            bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: f32x2),
            message: "4 trailing bytes after the last tensor"),
        Case(
            label: "reversed offsets",
            bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, data: f32x2),
            message: "end before they begin"),
        Case(
            label: "three offsets",
            bytes: Scratch.safetensors(
                header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}"#, data: f32x2),
            message: "'data_offsets' must be two non-negative integers"),
        Case(
            label: "non-string metadata", bytes: Scratch.safetensors(header: #"{"__metadata__":{"n":1}}"#, data: []),
            message: "__metadata__ value of 'n' is a number, not a string"),
        Case(
            label: "missing dtype",
            bytes: Scratch.safetensors(header: #"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, data: f32x2),
            message: "missing or non-string 'dtype'"),
        Case(
            label: "deep nesting",
            bytes: Scratch.safetensors(
                header: "{\"a\":" + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}",
                data: []), message: "nesting deeper than 64 levels"),
        Case(
            label: "offset beyond Int",
            bytes: Scratch.safetensors(
                header: #"{"a":{"dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]}}"#,
                data: []), message: "are too large"),
    ]
}
