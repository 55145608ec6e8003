import AmalgamCore
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ONNXFormat

/// Protobuf encoding helpers for hand-made messages.
private func varint(_ value: UInt64) -> [UInt8] {
    var bytes: [UInt8] = []
    WireEncoding.varint(value, into: &bytes)
    return bytes
}

private func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
    varint(UInt64(number) << 3 | 2) + varint(UInt64(payload.count)) + payload
}

private func withReader<T>(_ bytes: [UInt8], _ body: (inout WireReader) throws -> T) throws -> T {
    try bytes.withUnsafeBytes { raw in
        var reader = WireReader(raw, range: 0..<raw.count, path: "m.onnx")
        return try body(&reader)
    }
}

@Suite struct ONNXWireTests {
    @Test(arguments: [0, 1, 127, 128, 300, 1 << 31, UInt64.max])
    func varintRoundTrip(value: UInt64) throws {
        let bytes = varint(value)
        #expect(bytes.count == WireEncoding.varintSize(value))
        #expect(try withReader(bytes) { try $0.varint() } == value)
    }

    @Test(
        "malformed wire bytes are refused with the offset",
        arguments: [
            ([0x08] as [UInt8], "m.onnx: at byte 1: truncated protobuf: varint runs past the end of its message"),
            (
                [0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01],
                "m.onnx: at byte 1: protobuf varint longer than 10 bytes"
            ),
            ([0x02, 0x00], "m.onnx: at byte 0: protobuf field number 0 is out of range"),
            ([0x0A, 0x05, 0x01], "m.onnx: at byte 1: truncated protobuf: field 1 claims 5 bytes, 1 remain"),
            ([0x0B], "m.onnx: at byte 0: protobuf groups (field 1) are not used by ONNX"),
            ([0x0F], "m.onnx: at byte 0: unknown protobuf wire type 7 in field 1"),
            ([0x0D, 0x00], "m.onnx: at byte 0: truncated protobuf: field 1 runs past the end of its message"),
        ])
    func malformedFields(bytes: [UInt8], message: String) {
        #expect { _ = try withReader(bytes) { try $0.field() } } throws: { "\($0)" == message }
    }

    @Test func preparationStripsRawDataAndKeepsItsLocation() throws {
        let payload = [UInt8](repeating: 7, count: 4096)
        let tensor =
            varint(1 << 3) + varint(1024) + varint(2 << 3) + varint(1) + field(8, Array("w".utf8)) + field(9, payload)
        let model = varint(1 << 3) + varint(8) + field(7, field(5, tensor))
        let prepared = try model.withUnsafeBytes { try UnpackPreparation(bytes: $0, path: "m.onnx") }
        #expect(prepared.strippedBytes == 4096)
        #expect(prepared.output.count < 100)
        let parsed = try model.withUnsafeBytes { try ONNXModel(bytes: $0, path: "m.onnx") }
        guard case .raw(let offset, let count) = parsed.graph.initializers[0].data else {
            Issue.record("raw_data not located")
            return
        }
        #expect(count == 4096 && Array(model[offset..<(offset + count)]) == payload)
        #expect(parsed.irVersion == 8 && parsed.graph.initializers[0].dims == [1024])
    }

    @Test("nesting is limited before protobuf-c recurses", arguments: [21, 22])
    func nestingDepth(levels: Int) throws {
        // Each level is GraphProto > NodeProto > AttributeProto: three messages.
        var graph: [UInt8] = []
        for _ in 0..<levels { graph = field(1, field(5, field(1, Array("g".utf8)) + field(6, graph))) }
        let model = varint(1 << 3) + varint(8) + field(7, graph)
        let depth = 1 + 3 * levels + 1
        if depth <= UnpackPreparation.maximumDepth {
            let parsed = try model.withUnsafeBytes { try ONNXModel(bytes: $0, path: "m.onnx") }
            #expect(parsed.graph.nodes.count == 1)
        } else {
            #expect(throws: AmalgamError.self) {
                _ = try model.withUnsafeBytes { try ONNXModel(bytes: $0, path: "m.onnx") }
            }
        }
    }

    @Test func reservedMarkerFieldIsRefused() {
        let tensor = field(Int(UnpackPreparation.rawDataMarkerField), [UInt8](repeating: 0, count: 16))
        let model = varint(1 << 3) + varint(8) + field(7, field(5, tensor))
        #expect { _ = try model.withUnsafeBytes { try ONNXModel(bytes: $0, path: "m.onnx") } } throws: {
            "\($0)".contains("TensorProto uses field 536870911, which Amalgam reserves")
        }
    }

    @Test func protoPartSizesMatchWhatIsEmitted() throws {
        let folder = Scratch.folder()
        let payload = ByteRegion(copying: [UInt8](repeating: 3, count: 300))
        let parts: [ProtoPart] = [
            .varintField(1, 10), .stringField(2, "amalgam"),
            .message(
                field: 7,
                [
                    .stringField(2, "g"),
                    .message(
                        field: 5,
                        [
                            .varintField(1, 75), .varintField(2, 1), .stringField(8, "w"),
                            .payload(field: 9, ONNXPayload(tensorName: "w", region: payload)),
                        ]),
                ]),
        ]
        let path = folder + "/x.bin"
        let outputs = OutputSet(overwrite: false)
        let file = try outputs.create(path)
        for part in parts { try part.emit(into: file, graph: try ModelGraph()) { _ in } }
        try outputs.commit()
        let written = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(written.count == parts.reduce(0) { $0 + $1.size })
        let parsed = try Array(written).withUnsafeBytes { try ONNXModel(bytes: $0, path: path) }
        #expect(
            parsed.producerName == "amalgam" && parsed.graph.name == "g" && parsed.graph.initializers[0].dims == [75])
    }
}
