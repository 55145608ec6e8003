import Testing

@testable import AmalgamCore

struct JSONTests {
    @Test("objects keep key order and numbers keep their text")
    func order() throws {
        let value = try JSONParser.parse(
            #" {"b": 1, "a": [18446744073709551615, -2.5e3, true, null], "c": "x\u00e9\ud83d\ude00\n"} "#)
        #expect(value.objectValue?.map(\.key) == ["b", "a", "c"])
        #expect(value["a"]?.arrayValue?[0].uint64Value == UInt64.max)
        #expect(value["a"]?.arrayValue?[1].doubleValue == -2500)
        #expect(value["c"]?.stringValue == "xé😀\n")
    }

    @Test("compact output matches serde_json's escaping")
    func serialize() throws {
        let value = JSONValue.object([("k", .string("a\"b\\c\n\u{01}é/")), ("n", .array([.integer(1), .integer(-2)]))])
        #expect(value.serialized() == #"{"k":"a\"b\\c\n\u0001é/","n":[1,-2]}"#)
        #expect(try JSONParser.parse(value.serialized()) == value)
    }

    @Test(
        "malformed documents are rejected with an offset",
        arguments: [
            (#"{"a":1,"a":2}"#, "duplicate key \"a\"", 7),
            (#"{"a":01}"#, "leading zero", 5),
            (#"{"a":1} x"#, "unexpected content", 8),
            (#"{"a":"\ud800"}"#, "lone surrogate", 12),
            (#"{"a":"x"#, "unterminated string", 7),
            ("{\"a\":\"\u{01}\"}", "control character", 6),
            (#"{"a":tru}"#, "expected 'true'", 8),
            (#"[1,]"#, "unexpected character", 3),
            (#"{"a" 1}"#, "expected ':'", 5),
        ])
    func malformed(text: String, message: String, offset: Int) {
        do {
            _ = try JSONParser.parse(text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
            #expect(error.context.offset == UInt64(offset), "\(error)")
        }
    }

    @Test("invalid UTF-8 and deep nesting are rejected")
    func hostile() {
        let bytes: [UInt8] = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: AmalgamError.self) { try bytes.withUnsafeBytes { try JSONParser.parse($0) } }
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        do {
            _ = try JSONParser.parse(deep)
            Issue.record("accepted deep nesting")
        } catch {
            #expect(error.message.contains("nesting deeper than 64"))
        }
    }
}
