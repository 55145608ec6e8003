import Testing
@testable import ONNXFormat
import AmalgamCore

@Suite struct ONNXWireTests {
    @Test func varintRoundTrip() throws {
        for value: UInt64 in [0, 1, 127, 128, 300, 1 << 31, .max] {
            var bytes: [UInt8] = []
            WireEncoding.varint(value, into: &bytes)
            #expect(bytes.count == WireEncoding.varintSize(value))
            let decoded = try bytes.withUnsafeBytes { raw in
                var reader = WireReader(raw, range: 0..<raw.count, path: "x")
                return try reader.varint()
            }
            #expect(decoded == value)
        }
    }
}
