import AmalgamCore
import TestSupport
import Testing

@testable import SafetensorsFormat

#if canImport(Glibc)
    import Glibc
#endif

struct SafetensorsRoundTripTests {
    let plugin = SafetensorsPlugin()

    func sampleGraph() throws -> ModelGraph {
        var tensors: [Tensor] = []
        for (index, dtype) in DType.allCases.filter({ $0 != .c128 }).enumerated() {
            let shape: Shape = [2, 3]
            let bytes = (0..<(6 * dtype.byteWidth)).map { UInt8(truncatingIfNeeded: $0 * 37 + index) }
            tensors.append(
                Tensor(
                    name: "t.\(dtype.rawValue)", shape: shape, encoding: .plain(dtype),
                    storage: .region(ByteRegion(copying: bytes))))
        }
        tensors.append(Tensor(name: "scalar", shape: [], floats: [3.5]))
        tensors.append(Tensor(name: "empty", shape: [0, 4], floats: []))
        var metadata = Metadata()
        metadata["format"] = .string("pt")
        metadata["note"] = .string("ünïcode \"quoted\"")
        return try ModelGraph(tensors: tensors, metadata: metadata)
    }

    @Test("every dtype, rank 0 and empty tensors survive write and read bit-exactly, zero-copy")
    func roundTrip() throws {
        let folder = Scratch.folder()
        let graph = try sampleGraph()
        try plugin.write(graph, to: folder + "/m.safetensors")
        let read = try plugin.read(folder + "/m.safetensors", options: ReadOptions())
        #expect(read.tensors.count == graph.tensors.count)
        for tensor in graph.tensors {
            let copy = try #require(read[tensor.name])
            #expect(copy.shape == tensor.shape && copy.encoding == tensor.encoding)
            #expect(try copy.loadBytes().bytes == tensor.loadBytes().bytes)
            #expect(copy.storage.isMemoryMapped)
        }
        #expect(read.metadata["note"]?.stringValue == "ünïcode \"quoted\"")
        // Header is padded so the data section starts 8-byte aligned.
        let file = try MappedFile(path: folder + "/m.safetensors")
        let length = file.region.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(length % 8 == 0)
    }

    @Test("header bytes equal the reference writer's for the same tensors")
    func referenceHeader() throws {
        let graph = try ModelGraph(
            tensors: [
                Tensor(name: "b", shape: [2], floats: [1, 2]),
                Tensor(
                    name: "a", shape: [1], encoding: .plain(.i64),
                    storage: .region(ByteRegion(copying: [UInt8](repeating: 0, count: 8)))),
                Tensor(name: "c", shape: [0, 3], floats: []),
            ], metadata: Metadata(["z": .string("1"), "format": .string("pt")]))
        let shard = SafetensorsWriter.split(try SafetensorsWriter.plan(graph), limit: nil)[0]
        let (bytes, _) = SafetensorsWriter.header(for: shard, metadata: graph.metadata)
        let json = String(decoding: bytes[8...], as: UTF8.self)
        // I64 ranks above F32; names break ties bytewise; metadata keys sorted (the reference
        // uses a randomly seeded hash map there); 208 bytes with padding, as the reference.
        #expect(
            json
                == #"{"__metadata__":{"format":"pt","z":"1"},"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"c":{"dtype":"F32","shape":[0,3],"data_offsets":[16,16]}}    "#
        )
    }

    @Test("sharded output: greedy split, index file, and the folder reads back as one model")
    func sharded() throws {
        let folder = Scratch.folder()
        let tensors = (0..<5).map {
            Tensor(name: "layers.\($0).weight", shape: [10], floats: (0..<10).map { Float($0) })
        }
        let graph = try ModelGraph(tensors: tensors)
        let written = try plugin.write(
            graph, to: folder + "/model.safetensors", options: SafetensorsWriterOptions(maximumShardBytes: 100))
        #expect(
            written.map { $0.split(separator: "/").last! } == [
                "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                "model-00003-of-00003.safetensors",
                "model.safetensors.index.json",
            ])
        for path in [folder, folder + "/model.safetensors.index.json"] {
            let read = try plugin.read(path, options: ReadOptions())
            #expect(read.tensors.map(\.name) == tensors.map(\.name))
            #expect(try read["layers.4.weight"]!.floatValues() == (0..<10).map { Float($0) })
        }
        let index = try JSONParser.parse(
            String(decoding: try MappedFile(path: folder + "/model.safetensors.index.json").region.bytes, as: UTF8.self)
        )
        #expect(index["metadata"]?["total_size"]?.uint64Value == 200)
        #expect(index["weight_map"]?["layers.2.weight"]?.stringValue == "model-00002-of-00003.safetensors")
    }

    @Test("quantised tensors are refused with a hint")
    func quantised() throws {
        struct Fake: QuantizedCodec {
            let name = "Q4_0"
            let blockElements = 32
            let blockBytes = 18
            func decode(_ blocks: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>) throws {}
        }
        let tensor = Tensor(
            name: "q", shape: [32], encoding: .quantized(QuantizedEncoding(Fake())),
            storage: .region(ByteRegion(copying: [UInt8](repeating: 0, count: 18))))
        do {
            try plugin.write(
                try ModelGraph(tensors: [tensor]), to: Scratch.folder() + "/q.safetensors")
            Issue.record("wrote a quantised tensor")
        } catch let error as AmalgamError {
            #expect(
                error.description.contains(
                    "tensor 'q': is Q4_0-quantised; safetensors stores plain dtypes: add --dtype"))
        }
    }
}
