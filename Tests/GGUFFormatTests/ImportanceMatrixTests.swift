import AmalgamCore
import TestSupport
import Testing

@testable import GGUFFormat

/// `--imatrix` files as llama-quantize reads them, and the weighted encoders' effect. (Byte
/// equality with llama-quantize is checked against the real tool in Interop.)
struct ImportanceMatrixTests {
    /// A legacy .dat file: entries (name, call count, values), then the optional trailer.
    static func legacy(_ entries: [(String, Int32, [Float])], trailer: (Int32, String)? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        func int(_ value: Int32) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        int(Int32(entries.count))
        for (name, calls, values) in entries {
            int(Int32(name.utf8.count))
            bytes.append(contentsOf: name.utf8)
            int(calls)
            int(Int32(values.count))
            for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        }
        if let (chunks, dataset) = trailer {
            int(chunks)
            int(Int32(dataset.utf8.count))
            bytes.append(contentsOf: dataset.utf8)
        }
        return bytes
    }

    @Test("legacy .dat: values divided by the call count, the trailer's chunk count and dataset kept")
    func legacyFormat() throws {
        let path = Scratch.folder() + "/m.dat"
        Scratch.write(
            Self.legacy(
                [("blk.0.attn_q.weight", 4, [2, 6, 10, 0]), ("output.weight", 0, [3, 5])], trailer: (7, "wiki.txt")),
            to: path)
        let matrix = try ImportanceMatrix(path: path)
        #expect(matrix.entries["blk.0.attn_q.weight"] == [0.5, 1.5, 2.5, 0])
        #expect(matrix.entries["output.weight"] == [3, 5])  // a call count of 0 leaves them as they are
        #expect(matrix.chunkCount == 7 && matrix.datasets == ["wiki.txt"])
        #expect(try matrix.weights(for: "blk.0.attn_q.weight", rowLength: 4, experts: 1)?.values == [0.5, 1.5, 2.5, 0])
        #expect(try matrix.weights(for: "blk.1.attn_q.weight", rowLength: 4, experts: 1) == nil)
        #expect(
            matrix.metadata.map(\.key) == [
                "quantize.imatrix.file", "quantize.imatrix.dataset", "quantize.imatrix.entries_count",
                "quantize.imatrix.chunks_count",
            ])
    }

    @Test(
        "malformed matrices: one line naming the file, the entry and the offset",
        arguments: [
            (
                "a truncated value list", Array(legacy([("blk.0.ffn_up.weight", 1, [1, 2, 3])]).dropLast(5)),
                "m.dat: tensor 'blk.0.ffn_up.weight' at byte 31: 3 values declared, but 7 bytes are left (truncated file?)"
            ),
            (
                "a name longer than the file", [1, 0, 0, 0, 0xFF, 0xFF, 0, 0, 65, 66],
                "m.dat: at byte 4: entry 1: name length 65535 runs past the end of the file"
            ),
            ("no entries", [0, 0, 0, 0], "m.dat: at byte 0: importance matrix with 0 entries (legacy .dat format)"),
            (
                "a NaN", legacy([("blk.0.ffn_up.weight", 1, [1, .nan])]),
                "m.dat: tensor 'blk.0.ffn_up.weight': importance value 1 is nan (llama-quantize refuses non-finite values)"
            ),
        ])
    func malformed(what: String, bytes: [UInt8], message: String) throws {
        let folder = Scratch.folder()
        Scratch.write(bytes, to: folder + "/m.dat")
        let error = try #require(throws: AmalgamError.self) { try ImportanceMatrix(path: folder + "/m.dat") }
        #expect(error.description == folder + "/" + message, "\(what)")
    }

    @Test("an entry of another length is refused, except for the token embedding")
    func wrongLength() throws {
        let path = Scratch.folder() + "/m.dat"
        Scratch.write(Self.legacy([("blk.0.ffn_up.weight", 1, [1, 2]), ("token_embd.weight", 1, [1])]), to: path)
        let matrix = try ImportanceMatrix(path: path)
        #expect(try matrix.weights(for: "token_embd.weight", rowLength: 64, experts: 1) == nil)
        let error = try #require(throws: AmalgamError.self) {
            try matrix.weights(for: "blk.0.ffn_up.weight", rowLength: 64, experts: 1)
        }
        #expect(error.message == "importance matrix has 2 values for blk.0.ffn_up.weight, which has 64 columns")
    }

    @Test(
        "importance moves the error onto the columns that matter less",
        arguments: [GGMLType.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q4_0, .q4_1, .q5_0, .q5_1, .iq4_NL, .iq4_XS])
    func importanceShiftsError(type: GGMLType) throws {
        // In every 32 columns, the first 16 matter 100 times more than the rest.
        let weights = (0..<512).map { Float($0 % 32 < 16 ? 100 : 1) }
        let important = try Self.importantColumnError(type, weights: weights)
        #expect(important.weighted < important.plain, "\(type.name): \(important)")
    }

    /// Squared error on the heavily weighted columns, without and with the importance values.
    static func importantColumnError(_ type: GGMLType, weights: [Float]) throws -> (plain: Double, weighted: Double) {
        var random = SeededRandom(seed: 5)
        let values = (0..<(16 * 512)).map { _ in Float(random.nextGaussian()) }
        func error(_ importance: ImportanceWeights?) throws -> Double {
            let (elements, bytes) = type.blockLayout
            var blocks = [UInt8](repeating: 0, count: values.count / elements * bytes)
            try values.withUnsafeBufferPointer { source in
                try blocks.withUnsafeMutableBytes {
                    try GGUFQuantizer.encode(source, as: type, into: $0, importance: importance)
                }
            }
            let decoded = try TensorEncoding.quantized(QuantizedEncoding(GGMLCodec(type: type)))
                .decodeToFloat(ByteRegion(copying: blocks), elementCount: values.count)
            var total = 0.0
            for (index, (value, back)) in zip(values, decoded).enumerated() where weights[index % 512] > 1 {
                total += Double((value - back) * (value - back))
            }
            return total
        }
        return (try error(nil), try error(ImportanceWeights(values: weights, rowLength: 512)))
    }
}
