import Testing

@testable import AmalgamCore

struct YAMLParserTests {
    /// `value` as compact JSON, the easiest way to state a whole tree.
    func json(_ text: String) throws -> String { try YAMLParser.parse(text).serialized() }

    @Test("a mergekit configuration: block mappings, sequences at their key's column, comments, flow lists")
    func mergekitConfiguration() throws {
        let text = """
            # a comment
            merge_method: ties   # another
            base_model: ./base
            models:
            - model: ./a
              parameters:
                density: [1, 0.7, 0.1]
                weight:
                  - filter: self_attn
                    value: 0.5
                  - value: 1e-3
            - model: "./b c"
            parameters:
              normalize: yes
              int8_mask: off
            dtype: bfloat16
            """
        #expect(
            try json(text)
                == #"{"merge_method":"ties","base_model":"./base","models":[{"model":"./a","parameters":{"density":[1,0.7,0.1],"weight":[{"filter":"self_attn","value":0.5},{"value":0.001}]}},{"model":"./b c"}],"parameters":{"normalize":true,"int8_mask":false},"dtype":"bfloat16"}"#
        )
    }

    @Test(
        "scalars resolve as PyYAML does (floats as YAML 1.2)",
        arguments: [
            ("a: ~", #"{"a":null}"#), ("a:", #"{"a":null}"#), ("a: Null", #"{"a":null}"#),
            ("a: True", #"{"a":true}"#), ("a: NO", #"{"a":false}"#), ("a: 0x1F", #"{"a":31}"#),
            ("a: 0o17", #"{"a":15}"#), ("a: -12", #"{"a":-12}"#), ("a: +3", #"{"a":3}"#),
            ("a: .5", #"{"a":0.5}"#), ("a: 2.", #"{"a":2.0}"#), ("a: 1.5E+2", #"{"a":150.0}"#),
            ("a: '1.5'", #"{"a":"1.5"}"#), ("a: 1.2.3", #"{"a":"1.2.3"}"#), ("a: x: y", "error"),
            ("a: http://x.org/a#b", #"{"a":"http://x.org/a#b"}"#), ("a: b # c", #"{"a":"b"}"#),
            ("a: 'it''s'", #"{"a":"it's"}"#), (#"a: "t\tx\u00e9\"""#, #"{"a":"t\txé\""}"#),
            ("- a\n- - b\n  - c\n-\n", #"["a",["b","c"],null]"#), ("[a, {b: 1, c}, []]", #"["a",{"b":1,"c":null},[]]"#),
            ("{a: [1,\n  2], # c\n b: 'x'}", #"{"a":[1,2],"b":"x"}"#),
        ])
    func scalars(text: String, expected: String) throws {
        if expected == "error" {
            #expect(throws: AmalgamError.self) { try YAMLParser.parse(text) }
        } else {
            #expect(try json(text) == expected)
        }
    }

    @Test("block scalars: literal and folded, chomping and indentation indicators")
    func blockScalars() throws {
        let text = """
            literal: |
              line one
                indented
              line three

            folded: >
              a
              b

              c
            strip: |-
              x
            keep: |+
              y

            indicator: |2
                 four
            after: 1
            """
        let value = try YAMLParser.parse(text)
        #expect(value["literal"]?.stringValue == "line one\n  indented\nline three\n")
        #expect(value["folded"]?.stringValue == "a b\nc\n")
        #expect(value["strip"]?.stringValue == "x")
        #expect(value["keep"]?.stringValue == "y\n\n")
        #expect(value["indicator"]?.stringValue == "   four\n")
        #expect(value["after"] == .integer(1))
    }

    @Test("plain and quoted scalars over several lines are folded")
    func folding() throws {
        #expect(try json("a: one\n  two\n\n  three\nb: 1") == #"{"a":"one two\nthree","b":1}"#)
        #expect(try json("a: \"one\n  two\"") == #"{"a":"one two"}"#)
    }

    @Test("anchors and aliases share values; documents markers are accepted")
    func anchors() throws {
        let text = """
            ---
            shared: &w
              weight: 0.5
              density: [0.1, 0.9]
            models:
              - model: a
                parameters: *w
              - {model: b, parameters: *w}
            ...
            """
        let value = try YAMLParser.parse(text)
        let models = value["models"]?.arrayValue ?? []
        #expect(models.count == 2)
        #expect(models[0]["parameters"] == value["shared"])
        #expect(models[1]["parameters"] == value["shared"])
    }

    @Test(
        "malformed documents are refused with the line and column",
        arguments: [
            ("a: 1\na: 2", "line 2, column 1: duplicate key 'a'"),
            ("a:\n\tb: 1", "line 2, column 1: a tab in the indentation (YAML indents with spaces)"),
            ("a: [1, 2", "line 1, column 9: unterminated '['"),
            ("a: 'x", "line 1, column 4: unterminated single-quoted string"),
            ("a: *nope", "line 1, column 4: unknown alias '*nope'"),
            ("a: !!str 1", "line 1, column 4: YAML tags (!...) are not supported"),
            ("a: 1\n---\nb: 2", "line 2, column 1: several YAML documents in one file are not supported"),
            ("a:\n  b: 1\n c: 2", "line 3, column 2: unexpected indentation (the mapping's keys are at column 1)"),
            ("a: b: c", "line 1, column 5: a mapping cannot start on its key's line (quote the value)"),
            ("- a\nb: 1", "line 2, column 1: unexpected content (check the indentation)"),
            ("a: \"\\q\"", "line 1, column 5: invalid escape '\\q' in a double-quoted string"),
        ])
    func malformed(text: String, message: String) {
        #expect {
            try YAMLParser.parse(text)
        } throws: { error in
            (error as? AmalgamError)?.message == message
        }
    }

    @Test("nesting deeper than the limit is refused, not a stack overflow")
    func depth() {
        let text = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: AmalgamError.self) { try YAMLParser.parse(text) }
    }
}
