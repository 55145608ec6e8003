/// A reader of the YAML that configuration files are written in (mergekit's among them),
/// into the same `JSONValue` tree recipes use.
///
/// Supported: one document (an optional `---` first, an optional `...` last); block mappings
/// and sequences (a sequence may sit at its key's column); flow collections `[...]` and
/// `{...}` over several lines; plain, single- and double-quoted scalars (escapes, folding);
/// literal `|` and folded `>` block scalars with chomping (`-`, `+`) and indentation
/// indicators; comments; anchors `&a` and aliases `*a`. Plain scalars resolve as PyYAML
/// does for null (`~`, `null`), booleans (`true`, `yes`, `on`, ... in their three spellings)
/// and integers, and as YAML 1.2 for floats (so `1e-3` is a number, as mergekit reads it).
/// Refused with an error: tags, directives, several documents, duplicate keys, tabs in
/// indentation and nesting deeper than `maximumDepth`. Every error says `line L, column C`.
/// Cost: O(n) in the input length (aliases share their anchor's value).
public struct YAMLParser {
    public static let maximumDepth = 64

    private let bytes: [UInt8]
    private var position = 0
    private var anchors: [String: JSONValue] = [:]
    private var depth = 0

    /// Parses the document in `bytes` (UTF-8).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(AmalgamError) -> JSONValue {
        var parser = YAMLParser(bytes: Array(bytes))
        return try parser.parseDocument()
    }

    public static func parse(_ text: String) throws(AmalgamError) -> JSONValue {
        var parser = YAMLParser(bytes: Array(text.utf8))
        return try parser.parseDocument()
    }

    private init(bytes: [UInt8]) {
        // A byte-order mark is not content.
        self.bytes = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
    }

    // MARK: Documents

    private mutating func parseDocument() throws(AmalgamError) -> JSONValue {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw AmalgamError(.usage, "not UTF-8 text")
        }
        try skipBlankLinesAndComments()
        if peek() == UInt8(ascii: "%") { throw failure("YAML directives (%...) are not supported") }
        if atDocumentMarker("---") {
            position += 3
            skipSpaces()
            if !atLineEnd { throw failure("content after '---' on the same line is not supported") }
            try skipBlankLinesAndComments()
        }
        var value = JSONValue.null
        if !atEnd && !atDocumentMarker("...") && !atDocumentMarker("---") {
            value = try parseNode(parentIndent: -1)
            try skipBlankLinesAndComments()
        }
        if atDocumentMarker("...") {
            position += 3
            try skipBlankLinesAndComments()
        }
        if atDocumentMarker("---") { throw failure("several YAML documents in one file are not supported") }
        if !atEnd { throw failure("unexpected content (check the indentation)") }
        return value
    }

    // MARK: Block structure

    /// The node that starts at the current position, inside a parent block indented
    /// `parentIndent` (continuation lines must be indented deeper).
    /// - Parameter compact: false for a mapping's value on its key's line, where a block
    ///   mapping or sequence cannot start (`a: b: c`).
    private mutating func parseNode(parentIndent: Int, compact: Bool = true) throws(AmalgamError) -> JSONValue {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maximumDepth { throw failure("nesting deeper than \(Self.maximumDepth) levels") }
        let column = self.column
        switch peek() {
        case UInt8(ascii: "&"):
            let name = try readAnchorName()
            skipSpaces()
            let value: JSONValue
            if atLineEnd {
                try skipBlankLinesAndComments()
                guard !atEnd, self.column > parentIndent || startsSequenceEntry else {
                    anchors[name] = .null
                    return .null
                }
                value = try parseNode(parentIndent: parentIndent)
            } else {
                value = try parseNode(parentIndent: parentIndent)
            }
            anchors[name] = value
            return value
        case UInt8(ascii: "*"):
            let start = position
            let name = try readAnchorName()
            guard let value = anchors[name] else { throw failure("unknown alias '*\(name)'", at: start) }
            skipSpaces()
            if peek() == UInt8(ascii: ":") { throw failure("aliases as mapping keys are not supported") }
            return value
        case UInt8(ascii: "!"):
            throw failure("YAML tags (!...) are not supported")
        case UInt8(ascii: "-") where startsSequenceEntry:
            guard compact else { throw failure("a sequence cannot start on its key's line") }
            return try parseBlockSequence(indent: column)
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            let value = try parseFlowNode()
            skipSpaces()
            if peek() == UInt8(ascii: ":") { throw failure("flow collections as mapping keys are not supported") }
            try expectLineEnd()
            return value
        case UInt8(ascii: "|"), UInt8(ascii: ">"):
            return try parseBlockScalar(parentIndent: parentIndent)
        default:
            let start = position
            let (scalar, quoted) = try readScalar(flow: false)
            skipSpaces()
            if peek() == UInt8(ascii: ":") && isSeparator(peek(1)) {
                guard compact else { throw failure("a mapping cannot start on its key's line (quote the value)") }
                position = start
                return try parseBlockMapping(indent: column)
            }
            if quoted {
                try expectLineEnd()
                return .string(scalar)
            }
            return resolvePlain(try continuePlain(scalar, parentIndent: parentIndent))
        }
    }

    private mutating func parseBlockMapping(indent: Int) throws(AmalgamError) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        while true {
            let keyStart = position
            if peek() == UInt8(ascii: "-") && startsSequenceEntry {
                throw failure("a sequence entry where a mapping key was expected")
            }
            if peek() == UInt8(ascii: "?") { throw failure("complex mapping keys (?) are not supported") }
            let (key, _) = try readScalar(flow: false)
            skipSpaces()
            guard peek() == UInt8(ascii: ":"), isSeparator(peek(1)) else {
                throw failure("expected ':' after the mapping key '\(key)'")
            }
            if members.contains(where: { $0.key == key }) { throw failure("duplicate key '\(key)'", at: keyStart) }
            position += 1
            skipSpaces()
            let value: JSONValue
            if atLineEnd {
                try skipBlankLinesAndComments()
                if !atEnd && (self.column > indent || (self.column == indent && startsSequenceEntry)) {
                    value = try parseNode(parentIndent: self.column == indent ? indent - 1 : indent)
                } else {
                    value = .null
                }
            } else {
                value = try parseNode(parentIndent: indent, compact: false)
            }
            members.append((key, value))
            try skipBlankLinesAndComments()
            if atEnd || atDocumentMarker("...") || atDocumentMarker("---") { break }
            if self.column < indent { break }
            if self.column > indent {
                throw failure("unexpected indentation (the mapping's keys are at column \(indent + 1))")
            }
        }
        return .object(members)
    }

    private mutating func parseBlockSequence(indent: Int) throws(AmalgamError) -> JSONValue {
        var items: [JSONValue] = []
        while true {
            position += 1  // the '-'
            skipSpaces()
            if atLineEnd {
                try skipBlankLinesAndComments()
                items.append(!atEnd && self.column > indent ? try parseNode(parentIndent: indent) : .null)
            } else {
                items.append(try parseNode(parentIndent: indent))
            }
            try skipBlankLinesAndComments()
            if atEnd || atDocumentMarker("...") || atDocumentMarker("---") { break }
            if self.column < indent { break }
            if self.column > indent {
                throw failure("unexpected indentation (the sequence's entries are at column \(indent + 1))")
            }
            if !startsSequenceEntry { break }  // a key of the mapping holding this sequence
        }
        return .array(items)
    }

    /// `|` or `>` with its header, then the lines indented deeper than `parentIndent`.
    private mutating func parseBlockScalar(parentIndent: Int) throws(AmalgamError) -> JSONValue {
        let folded = peek() == UInt8(ascii: ">")
        position += 1
        var chomping: UInt8? = nil
        var explicitIndent: Int? = nil
        for _ in 0..<2 {
            if let c = peek(), c == UInt8(ascii: "-") || c == UInt8(ascii: "+"), chomping == nil {
                chomping = c
                position += 1
            } else if let c = peek(), c >= UInt8(ascii: "1"), c <= UInt8(ascii: "9"), explicitIndent == nil {
                explicitIndent = Int(c - UInt8(ascii: "0"))
                position += 1
            }
        }
        skipSpaces()
        try expectLineEnd()
        skipToNextLine()
        // The lines: each as its bytes after the content indentation ("" for blank lines).
        var lines: [[UInt8]] = []
        var contentIndent = explicitIndent.map { max(parentIndent, 0) + $0 }
        while !atEnd {
            let lineStart = position
            var spaces = 0
            while peek() == UInt8(ascii: " ") {
                spaces += 1
                position += 1
            }
            let blank = atLineBreak || atEnd
            if !blank {
                if contentIndent == nil {
                    guard spaces > parentIndent else {
                        position = lineStart
                        break
                    }
                    contentIndent = spaces
                }
                guard spaces >= contentIndent! else {
                    position = lineStart
                    break
                }
            }
            let contentStart = blank ? position : lineStart + contentIndent!
            while !atEnd && !atLineBreak { position += 1 }
            lines.append(Array(bytes[min(contentStart, position)..<position]))
            skipToNextLine()
        }
        var trailingBlank = 0
        while let last = lines.last, last.isEmpty {
            trailingBlank += 1
            lines.removeLast()
        }
        var text: [UInt8] = []
        if folded {
            var previousNormal = false
            var pendingBreaks = 0
            for line in lines {
                if line.isEmpty {
                    pendingBreaks += 1
                    continue
                }
                let moreIndented = line.first == UInt8(ascii: " ") || line.first == UInt8(ascii: "\t")
                if text.isEmpty {
                    text += [UInt8](repeating: UInt8(ascii: "\n"), count: pendingBreaks)
                } else if pendingBreaks == 0 {
                    text.append(previousNormal && !moreIndented ? UInt8(ascii: " ") : UInt8(ascii: "\n"))
                } else {
                    let extra = previousNormal && !moreIndented ? 0 : 1
                    text += [UInt8](repeating: UInt8(ascii: "\n"), count: pendingBreaks + extra)
                }
                text += line
                previousNormal = !moreIndented
                pendingBreaks = 0
            }
        } else {
            for (index, line) in lines.enumerated() {
                if index > 0 { text.append(UInt8(ascii: "\n")) }
                text += line
            }
        }
        if !lines.isEmpty {
            switch chomping {
            case UInt8(ascii: "-"): break
            case UInt8(ascii: "+"): text += [UInt8](repeating: UInt8(ascii: "\n"), count: 1 + trailingBlank)
            default: text.append(UInt8(ascii: "\n"))
            }
        } else if chomping == UInt8(ascii: "+") {
            text += [UInt8](repeating: UInt8(ascii: "\n"), count: trailingBlank)
        }
        return .string(String(decoding: text, as: UTF8.self))
    }

    /// A plain scalar's continuation lines (indented deeper than `parentIndent`), folded.
    private mutating func continuePlain(_ first: String, parentIndent: Int) throws(AmalgamError) -> String {
        var text = first
        while true {
            let save = position
            skipSpaces()
            if !atLineEnd { throw failure("unexpected content after the value") }
            skipToNextLine()
            var breaks = 0
            // Blank lines between continuation lines are kept as line breaks.
            while !atEnd {
                let lineStart = position
                skipSpaces()
                if atLineBreak {
                    breaks += 1
                    skipToNextLine()
                    continue
                }
                position = lineStart
                break
            }
            let lineStart = position
            skipSpaces()
            guard !atEnd, column > parentIndent, peek() != UInt8(ascii: "#"), !atDocumentMarker("---"),
                !atDocumentMarker("...")
            else {
                position = save
                return text
            }
            let (more, quoted) = try readScalar(flow: false)
            skipSpaces()
            if quoted || (peek() == UInt8(ascii: ":") && isSeparator(peek(1))) {
                throw failure("a mapping key inside a plain value (check the indentation)", at: lineStart)
            }
            text += breaks == 0 ? " " + more : String(repeating: "\n", count: breaks) + more
        }
    }

    // MARK: Flow collections

    private mutating func parseFlowNode() throws(AmalgamError) -> JSONValue {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maximumDepth { throw failure("nesting deeper than \(Self.maximumDepth) levels") }
        try skipFlowSpace()
        switch peek() {
        case UInt8(ascii: "["):
            position += 1
            var items: [JSONValue] = []
            try skipFlowSpace()
            while peek() != UInt8(ascii: "]") {
                items.append(try parseFlowNode())
                try skipFlowSpace()
                if peek() == UInt8(ascii: ",") {
                    position += 1
                    try skipFlowSpace()
                } else if peek() != UInt8(ascii: "]") {
                    throw failure(atEnd ? "unterminated '['" : "expected ',' or ']' in a flow sequence")
                }
            }
            position += 1
            return .array(items)
        case UInt8(ascii: "{"):
            position += 1
            var members: [(key: String, value: JSONValue)] = []
            try skipFlowSpace()
            while peek() != UInt8(ascii: "}") {
                let keyStart = position
                if atEnd { throw failure("unterminated '{'") }
                let (key, _) = try readScalar(flow: true)
                if members.contains(where: { $0.key == key }) { throw failure("duplicate key '\(key)'", at: keyStart) }
                try skipFlowSpace()
                var value = JSONValue.null
                if peek() == UInt8(ascii: ":") {
                    position += 1
                    try skipFlowSpace()
                    if peek() != UInt8(ascii: ",") && peek() != UInt8(ascii: "}") { value = try parseFlowNode() }
                    try skipFlowSpace()
                }
                members.append((key, value))
                if peek() == UInt8(ascii: ",") {
                    position += 1
                    try skipFlowSpace()
                } else if peek() != UInt8(ascii: "}") {
                    throw failure(atEnd ? "unterminated '{'" : "expected ',' or '}' in a flow mapping")
                }
            }
            position += 1
            return .object(members)
        case UInt8(ascii: "*"):
            let start = position
            let name = try readAnchorName()
            guard let value = anchors[name] else { throw failure("unknown alias '*\(name)'", at: start) }
            return value
        case UInt8(ascii: "&"):
            let name = try readAnchorName()
            try skipFlowSpace()
            let value = try parseFlowNode()
            anchors[name] = value
            return value
        case UInt8(ascii: "!"):
            throw failure("YAML tags (!...) are not supported")
        case nil:
            throw failure("unexpected end of the file in a flow collection")
        default:
            let (scalar, quoted) = try readScalar(flow: true)
            return quoted ? .string(scalar) : resolvePlain(scalar)
        }
    }

    /// Spaces, line breaks and comments inside a flow collection.
    private mutating func skipFlowSpace() throws(AmalgamError) {
        while let c = peek() {
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                position += 1
            } else if c == UInt8(ascii: "#"), position == 0 || isSpace(bytes[position - 1]) {
                while !atEnd && !atLineBreak { position += 1 }
            } else {
                return
            }
        }
    }

    // MARK: Scalars

    /// A quoted or plain scalar on the current line; `quoted` says which.
    private mutating func readScalar(flow: Bool) throws(AmalgamError) -> (String, quoted: Bool) {
        switch peek() {
        case UInt8(ascii: "\""): return (try readDoubleQuoted(), true)
        case UInt8(ascii: "'"): return (try readSingleQuoted(), true)
        default: return (try readPlain(flow: flow), false)
        }
    }

    private mutating func readPlain(flow: Bool) throws(AmalgamError) -> String {
        let start = position
        if let c = peek(), [UInt8(ascii: "@"), UInt8(ascii: "`")].contains(c) {
            throw failure("a plain value cannot start with '\(Character(Unicode.Scalar(c)))'; quote it")
        }
        while let c = peek(), !atLineBreak {
            if c == UInt8(ascii: ":") && (isSeparator(peek(1)) || (flow && isFlowIndicator(peek(1)))) { break }
            if c == UInt8(ascii: "#") && position > start && isSpace(bytes[position - 1]) { break }
            if flow && isFlowIndicator(c) { break }
            position += 1
        }
        var end = position
        while end > start && isSpace(bytes[end - 1]) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    private mutating func readSingleQuoted() throws(AmalgamError) -> String {
        let start = position
        position += 1
        var text: [UInt8] = []
        while true {
            guard let c = peek() else { throw failure("unterminated single-quoted string", at: start) }
            if c == UInt8(ascii: "'") {
                if peek(1) == UInt8(ascii: "'") {
                    text.append(c)
                    position += 2
                    continue
                }
                position += 1
                return String(decoding: text, as: UTF8.self)
            }
            if c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                foldQuotedLineBreak(into: &text)
                continue
            }
            text.append(c)
            position += 1
        }
    }

    private mutating func readDoubleQuoted() throws(AmalgamError) -> String {
        let start = position
        position += 1
        var text: [UInt8] = []
        while true {
            guard let c = peek() else { throw failure("unterminated double-quoted string", at: start) }
            switch c {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: text, as: UTF8.self)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                foldQuotedLineBreak(into: &text)
            case UInt8(ascii: "\\"):
                let escapeStart = position
                position += 1
                guard let e = peek() else { throw failure("unterminated double-quoted string", at: start) }
                position += 1
                switch e {
                case UInt8(ascii: "n"): text.append(0x0A)
                case UInt8(ascii: "t"), 0x09: text.append(0x09)
                case UInt8(ascii: "r"): text.append(0x0D)
                case UInt8(ascii: "0"): text.append(0x00)
                case UInt8(ascii: "a"): text.append(0x07)
                case UInt8(ascii: "b"): text.append(0x08)
                case UInt8(ascii: "e"): text.append(0x1B)
                case UInt8(ascii: "f"): text.append(0x0C)
                case UInt8(ascii: "v"): text.append(0x0B)
                case UInt8(ascii: " "), UInt8(ascii: "\""), UInt8(ascii: "/"), UInt8(ascii: "\\"): text.append(e)
                case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let digits = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
                    guard position + digits <= bytes.count,
                        let code = UInt32(
                            String(decoding: bytes[position..<position + digits], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(code)
                    else { throw failure("invalid escape in a double-quoted string", at: escapeStart) }
                    position += digits
                    text += Array(String(Character(scalar)).utf8)
                case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                    // An escaped line break joins the lines without a space.
                    position -= 1
                    skipToNextLine()
                    skipSpaces()
                default:
                    throw failure(
                        "invalid escape '\\\(Character(Unicode.Scalar(e)))' in a double-quoted string", at: escapeStart)
                }
            default:
                text.append(c)
                position += 1
            }
        }
    }

    /// A line break inside a quoted scalar: trailing spaces dropped, one break folded to a
    /// space, n + 1 breaks to n line feeds, the next line's indentation dropped.
    private mutating func foldQuotedLineBreak(into text: inout [UInt8]) {
        while let last = text.last, isSpace(last) { text.removeLast() }
        var breaks = 0
        while !atEnd {
            if atLineBreak {
                breaks += 1
                skipToNextLine()
            } else if isSpace(bytes[position]) {
                position += 1
            } else {
                break
            }
        }
        text += breaks == 1 ? [UInt8(ascii: " ")] : [UInt8](repeating: 0x0A, count: breaks - 1)
    }

    /// The plain scalar's value: null, a boolean, a number or the text.
    private func resolvePlain(_ text: String) -> JSONValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .number("inf")
        case "-.inf", "-.Inf", "-.INF": return .number("-inf")
        case ".nan", ".NaN", ".NAN": return .number("nan")
        default: break
        }
        if let integer = Self.integerText(text) { return .number(integer) }
        if Self.isFloat(text), let value = Double(text) { return .number("\(value)") }
        return .string(text)
    }

    /// Decimal, `0x` and `0o` integers as decimal text (nil for anything else).
    static func integerText(_ text: String) -> String? {
        var body = Substring(text)
        var negative = false
        if let sign = body.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            body = body.dropFirst()
        }
        var radix = 10
        if body.hasPrefix("0x") {
            radix = 16
            body = body.dropFirst(2)
        } else if body.hasPrefix("0o") {
            radix = 8
            body = body.dropFirst(2)
        }
        guard !body.isEmpty, body.allSatisfy({ $0.isHexDigit }), let magnitude = Int64(body, radix: radix) else {
            return nil
        }
        if radix == 10 && !body.allSatisfy({ $0.isASCII && $0.isNumber }) { return nil }
        return negative ? "\(-magnitude)" : "\(magnitude)"
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    static func isFloat(_ text: String) -> Bool {
        var chars = Array(text.utf8)[...]
        if let c = chars.first, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") { chars = chars.dropFirst() }
        func digits() -> Int {
            let count = chars.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
            chars = chars.dropFirst(count)
            return count
        }
        let whole = digits()
        var fraction = 0
        if chars.first == UInt8(ascii: ".") {
            chars = chars.dropFirst()
            fraction = digits()
        }
        guard whole > 0 || fraction > 0 else { return false }
        if let c = chars.first, c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            chars = chars.dropFirst()
            if let s = chars.first, s == UInt8(ascii: "-") || s == UInt8(ascii: "+") { chars = chars.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return chars.isEmpty
    }

    private mutating func readAnchorName() throws(AmalgamError) -> String {
        position += 1
        let start = position
        while let c = peek(), !isSpace(c), !atLineBreak, !isFlowIndicator(c) { position += 1 }
        guard position > start else { throw failure("an anchor or alias needs a name") }
        return String(decoding: bytes[start..<position], as: UTF8.self)
    }

    // MARK: Positions

    private func peek(_ offset: Int = 0) -> UInt8? {
        position + offset < bytes.count ? bytes[position + offset] : nil
    }

    private var atEnd: Bool { position >= bytes.count }
    private var atLineBreak: Bool { peek() == UInt8(ascii: "\n") || peek() == UInt8(ascii: "\r") }
    /// At the end of the line, or at a comment that runs to it.
    private var atLineEnd: Bool { atEnd || atLineBreak || peek() == UInt8(ascii: "#") }

    /// `- ` or a lone `-` at the end of a line.
    private var startsSequenceEntry: Bool { peek() == UInt8(ascii: "-") && isSeparator(peek(1)) }

    private func atDocumentMarker(_ marker: String) -> Bool {
        guard column == 0 else { return false }
        let utf8 = Array(marker.utf8)
        guard position + 3 <= bytes.count, Array(bytes[position..<position + 3]) == utf8 else { return false }
        return isSeparator(peek(3))
    }

    private func isSpace(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }
    private func isSeparator(_ c: UInt8?) -> Bool {
        guard let c else { return true }
        return isSpace(c) || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r")
    }
    private func isFlowIndicator(_ c: UInt8?) -> Bool {
        guard let c else { return false }
        return c == UInt8(ascii: ",") || c == UInt8(ascii: "[") || c == UInt8(ascii: "]") || c == UInt8(ascii: "{")
            || c == UInt8(ascii: "}")
    }

    private mutating func skipSpaces() {
        while let c = peek(), isSpace(c) { position += 1 }
    }

    private mutating func skipToNextLine() {
        while !atEnd && !atLineBreak { position += 1 }
        if peek() == UInt8(ascii: "\r") { position += 1 }
        if peek() == UInt8(ascii: "\n") { position += 1 }
    }

    /// Skips to the next content: spaces, comments and empty lines. Refuses tabs used
    /// to indent a line.
    private mutating func skipBlankLinesAndComments() throws(AmalgamError) {
        while !atEnd {
            let lineStart = column == 0
            let before = position
            skipSpaces()
            if lineStart, let tab = bytes[before..<position].firstIndex(of: UInt8(ascii: "\t")), !atLineEnd {
                throw failure("a tab in the indentation (YAML indents with spaces)", at: tab)
            }
            if atLineEnd {
                skipToNextLine()
                continue
            }
            return
        }
    }

    /// Only spaces and a comment may follow on this line.
    private mutating func expectLineEnd() throws(AmalgamError) {
        skipSpaces()
        if !atLineEnd { throw failure("unexpected content after the value") }
    }

    /// The 0-based column of the current position (in characters).
    private var column: Int { column(of: position) }

    private func column(of offset: Int) -> Int {
        var start = min(offset, bytes.count)
        while start > 0 && bytes[start - 1] != UInt8(ascii: "\n") && bytes[start - 1] != UInt8(ascii: "\r") {
            start -= 1
        }
        return bytes[start..<min(offset, bytes.count)].reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
    }

    private func failure(_ message: String, at offset: Int? = nil) -> AmalgamError {
        let offset = min(offset ?? position, bytes.count)
        let line = bytes[..<offset].reduce(1) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        return AmalgamError(.usage, "line \(line), column \(column(of: offset) + 1): \(message)")
    }
}
