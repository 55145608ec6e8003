/// A strict RFC 8259 parser for untrusted input (file headers, index files, recipes).
///
/// Rejects invalid UTF-8, duplicate object keys, lone surrogates, leading zeros, trailing
/// content and nesting deeper than `maximumDepth` (so a hostile header cannot exhaust the
/// stack). Errors carry the byte offset of the problem. Cost: O(n) in the input length.
public struct JSONParser {
    public static let defaultMaximumDepth = 64

    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    private let maximumDepth: Int

    /// Parses one JSON document that spans all of `bytes` (surrounding white space allowed).
    /// Error offsets are relative to the start of `bytes`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maximumDepth: Int = defaultMaximumDepth)
        throws(AmalgamError) -> JSONValue
    {
        var parser = JSONParser(bytes: bytes, maximumDepth: maximumDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.failure("unexpected content after the JSON document") }
        return value
    }

    public static func parse(_ text: String, maximumDepth: Int = defaultMaximumDepth) throws(AmalgamError) -> JSONValue
    {
        let utf8 = Array(text.utf8)
        var result: Result<JSONValue, AmalgamError> = .success(.null)
        utf8.withUnsafeBytes { buffer in
            result = Result { () throws(AmalgamError) in try parse(buffer, maximumDepth: maximumDepth) }
        }
        return try result.get()
    }

    private init(bytes: UnsafeRawBufferPointer, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    private func failure(_ message: String, at offset: Int? = nil) -> AmalgamError {
        AmalgamError(.invalidFormat, "invalid JSON: \(message)", offset: UInt64(offset ?? position))
    }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    private mutating func expect(_ literal: String) throws(AmalgamError) {
        for byte in literal.utf8 {
            guard current == byte else { throw failure("expected '\(literal)'") }
            position += 1
        }
    }

    private mutating func parseValue(depth: Int) throws(AmalgamError) -> JSONValue {
        guard depth < maximumDepth else { throw failure("nesting deeper than \(maximumDepth) levels") }
        guard let byte = current else { throw failure("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw failure("unexpected character '\(Unicode.Scalar(byte))'")
        }
    }

    private mutating func parseObject(depth: Int) throws(AmalgamError) -> JSONValue {
        position += 1
        var members: [(key: String, value: JSONValue)] = []
        var seen = Set<ExactText>()
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            let keyOffset = position
            guard current == UInt8(ascii: "\"") else { throw failure("expected a string key") }
            let key = try parseString()
            guard seen.insert(ExactText(key)).inserted else { throw failure("duplicate key \"\(key)\"", at: keyOffset) }
            skipWhitespace()
            try expect(":")
            skipWhitespace()
            members.append((key, try parseValue(depth: depth + 1)))
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                position += 1
                continue
            }
            if current == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            }
            throw failure("expected ',' or '}' in object")
        }
    }

    private mutating func parseArray(depth: Int) throws(AmalgamError) -> JSONValue {
        position += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            position += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            if current == UInt8(ascii: ",") {
                position += 1
                continue
            }
            if current == UInt8(ascii: "]") {
                position += 1
                return .array(items)
            }
            throw failure("expected ',' or ']' in array")
        }
    }

    private mutating func parseNumber() throws(AmalgamError) -> JSONValue {
        let start = position
        if current == UInt8(ascii: "-") { position += 1 }
        let isDigit = { (byte: UInt8?) in byte.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        guard isDigit(current) else { throw failure("invalid number") }
        if current == UInt8(ascii: "0") {
            position += 1
            if isDigit(current) { throw failure("leading zero in number", at: start) }
        } else {
            while isDigit(current) { position += 1 }
        }
        if current == UInt8(ascii: ".") {
            position += 1
            guard isDigit(current) else { throw failure("invalid fraction in number") }
            while isDigit(current) { position += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard isDigit(current) else { throw failure("invalid exponent in number") }
            while isDigit(current) { position += 1 }
        }
        return .number(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self))
    }

    private mutating func parseHex4() throws(AmalgamError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw failure("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw failure("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private mutating func parseString() throws(AmalgamError) -> String {
        position += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        var runStart = position
        func flushRun(_ end: Int) throws(AmalgamError) {
            if end > runStart {
                guard
                    let text = String(
                        validating: UnsafeRawBufferPointer(rebasing: bytes[runStart..<end]), as: UTF8.self)
                else {
                    throw failure("invalid UTF-8 in string", at: runStart)
                }
                scalars.append(contentsOf: text.unicodeScalars)
            }
        }
        while true {
            guard let byte = current else { throw failure("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                try flushRun(position)
                position += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flushRun(position)
                position += 1
                guard let escape = current else { throw failure("unterminated escape") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard current == UInt8(ascii: "\\"), position + 1 < bytes.count,
                            bytes[position + 1] == UInt8(ascii: "u")
                        else {
                            throw failure("lone surrogate in \\u escape")
                        }
                        position += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw failure("invalid surrogate pair in \\u escape")
                        }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(code) {
                        throw failure("lone surrogate in \\u escape")
                    }
                    scalars.append(Unicode.Scalar(code)!)
                default:
                    throw failure("invalid escape '\\\(Unicode.Scalar(escape))'")
                }
                runStart = position
            case 0x00..<0x20:
                throw failure("unescaped control character in string")
            default:
                position += 1
            }
        }
    }
}
