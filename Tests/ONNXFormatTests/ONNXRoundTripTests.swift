import AmalgamCore
import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ONNXFormat

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
