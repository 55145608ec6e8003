import AmalgamCore

/// The few Python literals a `.npy` header uses: a dict of strings, booleans, integers and
/// tuples (a list appears only in structured descrs, which are refused).
struct PythonLiteralParser {
    enum Value {
        case string(String)
        case bool(Bool)
        case integer(UInt64)
        case tuple([Value])
        case list
        case none
    }

    let scalars: [Unicode.Scalar]
    let baseOffset: Int
    var position = 0

    init(text: String, baseOffset: Int) {
        scalars = Array(text.unicodeScalars)
        self.baseOffset = baseOffset
    }

    private func fail(_ message: String) -> AmalgamError {
        AmalgamError(.invalidFormat, ".npy header: \(message)", offset: UInt64(baseOffset + position))
    }

    private mutating func skipSpace() {
        while position < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[position]) { position += 1 }
    }

    private mutating func expect(_ scalar: Unicode.Scalar) throws(AmalgamError) {
        skipSpace()
        guard position < scalars.count, scalars[position] == scalar else { throw fail("expected '\(scalar)'") }
        position += 1
    }

    private mutating func peek() -> Unicode.Scalar? {
        skipSpace()
        return position < scalars.count ? scalars[position] : nil
    }

    mutating func parseHeaderDict() throws(AmalgamError) -> [String: Value] {
        try expect("{")
        var entries: [String: Value] = [:]
        while peek() != "}" {
            guard case .string(let key) = try parseValue(depth: 0) else { throw fail("dict keys must be strings") }
            try expect(":")
            guard entries[key] == nil else { throw fail("duplicate key '\(key)'") }
            entries[key] = try parseValue(depth: 0)
            if peek() == "," { position += 1 } else { break }
        }
        try expect("}")
        skipSpace()
        guard position == scalars.count else { throw fail("unexpected text after the dict") }
        return entries
    }

    private mutating func parseValue(depth: Int) throws(AmalgamError) -> Value {
        guard depth < 8 else { throw fail("nesting too deep") }
        guard let first = peek() else { throw fail("unexpected end of header") }
        switch first {
        case "'", "\"":
            position += 1
            var text = String.UnicodeScalarView()
            while position < scalars.count, scalars[position] != first {
                if scalars[position] == "\\" { throw fail("escapes in strings are not supported") }
                text.append(scalars[position])
                position += 1
            }
            guard position < scalars.count else { throw fail("unterminated string") }
            position += 1
            return .string(String(text))
        case "(":
            position += 1
            var items: [Value] = []
            while peek() != ")" {
                items.append(try parseValue(depth: depth + 1))
                if peek() == "," { position += 1 } else { break }
            }
            try expect(")")
            return .tuple(items)
        case "[":
            // Only structured descrs use lists; skip it balanced and report it as a list.
            var level = 0
            repeat {
                if scalars[position] == "[" { level += 1 }
                if scalars[position] == "]" { level -= 1 }
                position += 1
            } while level > 0 && position < scalars.count
            guard level == 0 else { throw fail("unterminated list") }
            return .list
        case "0"..."9":
            var value: UInt64 = 0
            while position < scalars.count, ("0"..."9").contains(scalars[position]) {
                let digit = UInt64(scalars[position].value - 48)
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(digit)
                guard !o1 && !o2 else { throw fail("integer too large") }
                value = sum
                position += 1
            }
            if position < scalars.count, scalars[position] == "L" { position += 1 }  // Python 2 long
            return .integer(value)
        default:
            for (word, value) in [("True", Value.bool(true)), ("False", .bool(false)), ("None", .none)] {
                let end = position + word.unicodeScalars.count
                if end <= scalars.count, String(String.UnicodeScalarView(scalars[position..<end])) == word {
                    position = end
                    return value
                }
            }
            throw fail("unexpected '\(first)'")
        }
    }
}
