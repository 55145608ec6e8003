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
                            .payload(field: 9, count: 300, load: { _ in payload }),
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

@Suite struct NameRecoveryTests {
    private func node(_ op: String, _ name: String, _ inputs: [String], transB: Int64? = nil) -> ONNXNode {
        ONNXNode(
            name: name, opType: op, inputs: inputs, outputs: ["out"], integers: transB.map { ["transB": $0] } ?? [:],
            constant: nil, subgraphs: [])
    }

    @Test(arguments: [
        ("encoder.layer.0.attention.self.query.bias", true), ("onnx::MatMul_12", false), ("val_8", false),
        ("a..b", false), ("weight", false), ("a.b-c", false), ("model.0.auto_model.x", true),
    ])
    func stateDictNames(name: String, expected: Bool) {
        #expect(NameRecovery.isStateDictName(name) == expected)
    }

    @Test func matMulGemmAndAddAreRecovered() {
        let graph = ONNXGraph(
            name: "g",
            nodes: [
                node(
                    "MatMul", "/model/model.0/auto_model/encoder/layer.0/attention/self/query/MatMul",
                    ["x", "onnx::MatMul_1"]),
                node(
                    "Add", "/model/model.0/auto_model/encoder/layer.0/attention/self/query/Add",
                    ["model.0.auto_model.encoder.layer.0.attention.self.query.bias", "y"]),
                node("Gemm", "/classifier/Gemm", ["h", "onnx::Gemm_2", "onnx::Gemm_3"], transB: 1),
                node("Gemm", "/pooler/dense/Gemm", ["h", "onnx::Gemm_4"]),
                node("Add", "/head/Add", ["z", "onnx::Add_5"]),
            ], initializers: [])
        let tensors: [(name: String, rank: Int)] = [
            ("onnx::MatMul_1", 2), ("model.0.auto_model.encoder.layer.0.attention.self.query.bias", 1),
            ("onnx::Gemm_2", 2), ("onnx::Gemm_3", 1), ("onnx::Gemm_4", 2), ("onnx::Add_5", 1), ("val_9", 1),
        ]
        let result = NameRecovery.recover(graph: graph, tensors: tensors)
        #expect(
            result.names["onnx::MatMul_1"]
                == .init(canonical: "model.0.auto_model.encoder.layer.0.attention.self.query.weight", transposed: true))
        #expect(result.names["onnx::Gemm_2"] == .init(canonical: "classifier.weight", transposed: false))
        #expect(result.names["onnx::Gemm_3"] == .init(canonical: "classifier.bias", transposed: false))
        #expect(result.names["onnx::Gemm_4"] == .init(canonical: "pooler.dense.weight", transposed: true))
        #expect(result.names["onnx::Add_5"] == .init(canonical: "head.bias", transposed: false))
        #expect(result.names["val_9"] == .init(canonical: "val_9", transposed: false))
        #expect(result.removedPrefix == nil)  // classifier.*, pooler.* do not share it
        #expect(result.renamedThroughGraph == 5)
    }

    @Test("a MatMul without a path is named by the bias added to its product")
    func biasNamesTheLayer() {
        let matmul = ONNXNode(
            name: "node_MatMul_48", opType: "MatMul", inputs: ["h", "val_49"], outputs: ["val_50"], integers: [:],
            constant: nil, subgraphs: [])
        let add = ONNXNode(
            name: "node_linear", opType: "Add", inputs: ["val_50", "inner.encoder.layer.0.attention.self.query.bias"],
            outputs: ["y"], integers: [:], constant: nil, subgraphs: [])
        let graph = ONNXGraph(name: "g", nodes: [matmul, add], initializers: [])
        let result = NameRecovery.recover(
            graph: graph,
            tensors: [("val_49", 2), ("inner.encoder.layer.0.attention.self.query.bias", 1), ("inner.embeddings.x", 1)])
        #expect(
            result.names["val_49"] == .init(canonical: "encoder.layer.0.attention.self.query.weight", transposed: true))
        #expect(result.removedPrefix == "inner.")
    }

    @Test func collidingNamesKeepTheirSpelling() {
        let graph = ONNXGraph(
            name: "g", nodes: [node("MatMul", "/dense/MatMul", ["x", "onnx::MatMul_1"])], initializers: [])
        let result = NameRecovery.recover(graph: graph, tensors: [("onnx::MatMul_1", 2), ("dense.weight", 2)])
        #expect(result.names["onnx::MatMul_1"]?.canonical == "onnx::MatMul_1")
    }

    @Test(
        arguments: [
            (["inner.embeddings.x", "inner.encoder.y"], "inner."),
            (["model.0.auto_model.embeddings.x", "model.0.auto_model.encoder.y"], "model.0.auto_model."),
            (["0.auto_model.a.b", "0.auto_model.c"], "0.auto_model."),
            (["module.a", "module.b.c"], "module."),
            (["bert.embeddings.x", "bert.encoder.y"], nil),
            (["inner.a", "other.b"], nil),
            (["inner.a"], "inner."),
        ] as [([String], String?)])
    func wrapperPrefixes(names: [String], expected: String?) {
        #expect(NameRecovery.wrapperPrefix(of: names) == expected)
    }
}

@Suite struct ExternalDataRuleTests {
    @Test(arguments: [
        ("../x.bin", "contains '..'"), ("a/../../x.bin", "contains '..'"), ("/etc/passwd", "is an absolute path"),
        ("a\\b.bin", "contains a backslash, colon or NUL"), ("C:x.bin", "contains a backslash, colon or NUL"),
    ])
    func refusedLocations(location: String, message: String) {
        #expect { try ExternalDataFiles.checkLocation(location, modelPath: "m.onnx") } throws: {
            "\($0)".contains(message)
        }
    }

    @Test func acceptedLocations() throws {
        for location in ["x.bin", "weights/x.bin", "./x.bin", "a..b.bin"] {
            try ExternalDataFiles.checkLocation(location, modelPath: "m.onnx")
        }
    }
}

@Suite struct ONNXRoundTripTests {
    static let dtypes: [DType] = [
        .f32, .f16, .bf16, .f64, .i8, .u8, .i16, .u16, .i32, .u32, .i64, .u64, .bool, .c64, .c128, .f8_e4m3, .f8_e5m2,
    ]

    @Test("weights-only output reads back bit for bit", arguments: dtypes, [false, true])
    func roundTrip(dtype: DType, external: Bool) throws {
        let folder = Scratch.folder()
        var generator = SystemRandomNumberGenerator()
        var tensors: [Tensor] = []
        for (index, shape) in [[3, 5], [7], [], [2, 0]].enumerated() {
            let shape = Shape(shape)
            let bytes = (0..<(shape.elementCount * dtype.byteWidth)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            let fixed = dtype == .bool ? bytes.map { $0 & 1 } : bytes
            tensors.append(
                Tensor(
                    name: "layers.\(index).weight", shape: shape, encoding: .plain(dtype),
                    storage: .region(ByteRegion(copying: fixed))))
        }
        let graph = try ModelGraph(tensors: tensors, metadata: Metadata(["note": .string("x")]))
        let path = folder + "/m.onnx"
        let files = try ONNXPlugin().write(
            graph, to: path, options: ONNXWriterOptions(externalData: external))
        #expect(files == (external ? [path, path + ".data"] : [path]))
        let read = try ONNXPlugin().read(path, options: ReadOptions())
        #expect(read.tensors.map(\.name) == tensors.map(\.name))
        for (original, back) in zip(tensors, read.tensors) {
            #expect(back.shape == original.shape && back.encoding == original.encoding)
            #expect(try back.loadBytes().bytes == original.loadBytes().bytes)
            #expect(back.storage.isMemoryMapped || original.shape.elementCount == 0)
        }
        #expect(read.metadata["note"] == .string("x"))
        #expect(read.metadata["onnx.ir_version"] == .i64(ONNXDataType.minimumIRVersion(for: dtype) > 4 ? 9 : 4))
    }

    @Test("a model over protobuf's limit goes to external data by itself, with a warning")
    func automaticExternalData() throws {
        let folder = Scratch.folder()
        let graph = try ModelGraph(tensors: [Tensor(name: "w", shape: [64, 64], floats: (0..<4096).map(Float.init))])
        let warnings = Mutex<[String]>([])
        let path = folder + "/big.onnx"
        let files = try ONNXPlugin().write(
            graph, to: path,
            options: ONNXWriterOptions(inlineLimit: 10000), warn: { line in warnings.withLock { $0.append(line) } })
        #expect(files == [path, path + ".data"])
        #expect(
            warnings.withLock { $0 } == ["the model exceeds protobuf's 2 GiB limit: tensor data goes to big.onnx.data"])
        #expect(
            try ONNXPlugin().read(path, options: ReadOptions()).tensors[0].floatValues() == (0..<4096).map(Float.init))
    }

    @Test func quantisedTensorsAreRefusedWithAHint() throws {
        let folder = Scratch.folder()
        struct Fake: QuantizedCodec {
            var name: String { "Q8_0" }
            var blockElements: Int { 32 }
            var blockBytes: Int { 34 }
            var canEncode: Bool { false }
            func decode(_ blocks: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>) throws {}
            func encode(_ values: UnsafeBufferPointer<Float>, into blocks: UnsafeMutableRawBufferPointer) throws {}
        }
        let tensor = Tensor(
            name: "w", shape: [32], encoding: .quantized(QuantizedEncoding(Fake())),
            storage: .region(ByteRegion(copying: [UInt8](repeating: 0, count: 34))))
        let graph = try ModelGraph(tensors: [tensor])
        #expect { try ONNXPlugin().write(graph, to: folder + "/q.onnx") } throws: {
            "\($0)"
                == "tensor 'w': is Q8_0-quantised; ONNX initializers hold plain dtypes: add --dtype f32, f16 or bf16 to decode it"
        }
        #expect(FileSystem.list(folder).isEmpty)
    }
}
