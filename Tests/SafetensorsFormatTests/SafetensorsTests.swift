import Testing
import AmalgamCore
@testable import SafetensorsFormat
#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the safetensors tests.
enum Scratch {
    static func folder() -> String {
        var template = Array("/tmp/amalgam-st-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    static func write(_ bytes: [UInt8], to path: String) {
        let file = fopen(path, "wb")!
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, bytes.count, file) }
        fclose(file)
    }

    /// A safetensors file from a header string and data bytes (no padding added).
    static func safetensors(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + json + data
    }
}

struct SafetensorsRoundTripTests {
    let plugin = SafetensorsPlugin()

    func sampleGraph() throws -> ModelGraph {
        var tensors: [Tensor] = []
        for (index, dtype) in DType.allCases.enumerated() {
            let shape: Shape = [2, 3]
            let bytes = (0..<(6 * dtype.byteWidth)).map { UInt8(truncatingIfNeeded: $0 * 37 + index) }
            tensors.append(Tensor(name: "t.\(dtype.rawValue)", shape: shape, encoding: .plain(dtype), storage: .region(ByteRegion(copying: bytes))))
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
        try plugin.write(graph, to: folder + "/m.safetensors", options: WriteOptions())
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
        let graph = try ModelGraph(tensors: [
            Tensor(name: "b", shape: [2], floats: [1, 2]),
            Tensor(name: "a", shape: [1], encoding: .plain(.i64), storage: .region(ByteRegion(copying: [UInt8](repeating: 0, count: 8)))),
            Tensor(name: "c", shape: [0, 3], floats: []),
        ], metadata: Metadata(["z": .string("1"), "format": .string("pt")]))
        let shard = SafetensorsWriter.split(try SafetensorsWriter.plan(graph), limit: nil)[0]
        let (bytes, _) = SafetensorsWriter.header(for: shard, metadata: graph.metadata)
        let json = String(decoding: bytes[8...], as: UTF8.self)
        // I64 ranks above F32; names break ties bytewise; metadata keys sorted (the reference
        // uses a randomly seeded hash map there); 208 bytes with padding, as the reference.
        #expect(json == #"{"__metadata__":{"format":"pt","z":"1"},"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"c":{"dtype":"F32","shape":[0,3],"data_offsets":[16,16]}}    "#)
    }

    @Test("sharded output: greedy split, index file, and the folder reads back as one model")
    func sharded() throws {
        let folder = Scratch.folder()
        let tensors = (0..<5).map { Tensor(name: "layers.\($0).weight", shape: [10], floats: (0..<10).map { Float($0) }) }
        let graph = try ModelGraph(tensors: tensors)
        let written = try plugin.write(graph, to: folder + "/model.safetensors", options: WriteOptions(maximumShardBytes: 100))
        #expect(written.map { $0.split(separator: "/").last! } == [
            "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
            "model.safetensors.index.json",
        ])
        for path in [folder, folder + "/model.safetensors.index.json"] {
            let read = try plugin.read(path, options: ReadOptions())
            #expect(read.tensors.map(\.name) == tensors.map(\.name))
            #expect(try read["layers.4.weight"]!.floatValues() == (0..<10).map { Float($0) })
        }
        let index = try JSONParser.parse(String(decoding: try MappedFile(path: folder + "/model.safetensors.index.json").region.bytes, as: UTF8.self))
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
        let tensor = Tensor(name: "q", shape: [32], encoding: .quantized(QuantizedEncoding(Fake())), storage: .region(ByteRegion(copying: [UInt8](repeating: 0, count: 18))))
        do {
            try plugin.write(try ModelGraph(tensors: [tensor]), to: Scratch.folder() + "/q.safetensors", options: WriteOptions())
            Issue.record("wrote a quantised tensor")
        } catch let error as AmalgamError {
            #expect(error.description.contains("tensor 'q': is Q4_0-quantised; safetensors stores plain dtypes: add --dtype"))
        }
    }
}

/// Malformed files: each must fail with `.invalidFormat`/`.unsupported`/`.overflow` and a
/// message naming the problem.
struct SafetensorsMalformedTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let label: String
        let bytes: [UInt8]
        let message: String
        var testDescription: String { label }
    }

    static let f32x2 = [UInt8](repeating: 0, count: 8)

    static let cases: [Case] = [
        Case(label: "empty file", bytes: [], message: "file is 0 bytes, too short for the 8-byte header length"),
        Case(label: "short file", bytes: [1, 2, 3], message: "too short"),
        Case(label: "absurd header length", bytes: Scratch.safetensors(header: "{}", data: [], declaredLength: 1 << 40), message: "header length 1099511627776 exceeds the limit of 100000000 bytes"),
        Case(label: "header past end", bytes: Scratch.safetensors(header: "{}", data: [], declaredLength: 50), message: "header length 50 runs past the end of the 10-byte file"),
        Case(label: "not JSON", bytes: Scratch.safetensors(header: "{nope}", data: []), message: "header: invalid JSON: expected a string key"),
        Case(label: "invalid UTF-8", bytes: Scratch.safetensors(header: "{\"\u{00e9}\":1}", data: []).enumerated().map { $0.offset == 10 ? 0xFF : $0.element }, message: "invalid UTF-8"),
        Case(label: "not an object", bytes: Scratch.safetensors(header: "[]", data: []), message: "header does not start with '{'"),
        Case(label: "duplicate names", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: f32x2), message: "duplicate key \"a\""),
        Case(label: "unknown dtype", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}"#, data: f32x2), message: "unknown dtype 'F7'"),
        Case(label: "unsupported dtype", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, data: f32x2), message: "dtype C64 is not supported"),
        Case(label: "negative dimension", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: f32x2), message: "holds something other than a non-negative integer"),
        Case(label: "overflowing shape", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, data: f32x2), message: "overflows"),
        Case(label: "byte size overflow", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}}"#, data: f32x2), message: "byte size of shape [2305843009213693952] overflows"),
        Case(label: "size mismatch", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: f32x2), message: "data_offsets [0, 8] hold 8 bytes but F32 [3] needs 12"),
        Case(label: "gap", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: f32x2), message: "leaves a gap of 4 bytes"),
        Case(label: "overlap", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: f32x2), message: "overlaps the tensor before it"),
        Case(label: "truncated data", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: f32x2), message: "run past the end of the data section (8 bytes): file truncated?"),
        Case(label: "trailing bytes", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: f32x2), message: "4 trailing bytes after the last tensor"),
        Case(label: "reversed offsets", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, data: f32x2), message: "end before they begin"),
        Case(label: "three offsets", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}"#, data: f32x2), message: "'data_offsets' must be two non-negative integers"),
        Case(label: "non-string metadata", bytes: Scratch.safetensors(header: #"{"__metadata__":{"n":1}}"#, data: []), message: "__metadata__ value of 'n' is a number, not a string"),
        Case(label: "missing dtype", bytes: Scratch.safetensors(header: #"{"a":{"shape":[2],"data_offsets":[0,8]}}"#, data: f32x2), message: "missing or non-string 'dtype'"),
        Case(label: "deep nesting", bytes: Scratch.safetensors(header: "{\"a\":" + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "}", data: []), message: "nesting deeper than 64 levels"),
        Case(label: "offset beyond Int", bytes: Scratch.safetensors(header: #"{"a":{"dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]}}"#, data: []), message: "are too large"),
    ]

    @Test("malformed safetensors files are refused precisely", arguments: cases)
    func refused(_ testCase: Case) throws {
        let path = Scratch.folder() + "/bad.safetensors"
        Scratch.write(testCase.bytes, to: path)
        do {
            _ = try SafetensorsPlugin().read(path, options: ReadOptions())
            Issue.record("accepted: \(testCase.label)")
        } catch let error as AmalgamError {
            #expect(error.description.contains(testCase.message), "\(error)")
            #expect(error.context.file == path)
            #expect([.invalidFormat, .unsupported, .overflow].contains(error.code))
        }
    }

    @Test("sharded index errors: traversal, missing shard, unlisted and misplaced tensors")
    func badIndex() throws {
        let folder = Scratch.folder()
        let graph = try ModelGraph(tensors: [Tensor(name: "a", shape: [1], floats: [1]), Tensor(name: "b", shape: [1], floats: [2])])
        try SafetensorsPlugin().write(graph, to: folder + "/s.safetensors", options: WriteOptions())
        let cases: [(String, String)] = [
            (#"{"weight_map":{"a":"../s.safetensors"}}"#, "which is not a plain file name"),
            (#"{"weight_map":{"a":"missing.safetensors"}}"#, "which does not exist"),
            (#"{"weight_map":{"a":"s.safetensors"}}"#, "tensor 'b': shard holds this tensor but the index does not list it"),
            (#"{"weight_map":{"a":"s.safetensors","b":"s.safetensors","c":"s.safetensors"}}"#, "tensor 'c': index lists this tensor in 's.safetensors', but the shard lacks it"),
            (#"{"metadata":{}}"#, "index has no \"weight_map\" object"),
        ]
        for (index, (json, message)) in cases.enumerated() {
            let path = folder + "/case\(index).safetensors.index.json"
            Scratch.write(Array(json.utf8), to: path)
            do {
                _ = try SafetensorsPlugin().read(path, options: ReadOptions())
                Issue.record("accepted index \(json)")
            } catch let error as AmalgamError {
                #expect(error.description.contains(message), "\(error)")
            }
        }
    }
}
