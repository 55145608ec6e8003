import AmalgamCore
import Testing

@testable import GGUFFormat

/// GGUF tensor bytes produced a block of rows at a time equal the whole-tensor path, for every
/// kind of work a block does (copy, dtype conversion, quantisation with an expert importance
/// matrix, Gemma's 1 + w, the rotary permutation by whole heads), at block sizes that cut
/// tensors into several uneven blocks.
struct StreamedTensorTests {
    static func values(_ count: Int, seed: Int) -> [Float] {
        var random = SeededRandom(seed: UInt64(seed))
        return (0..<count).map { index in Float(random.nextGaussian()) * Float(1 + index % 5) }
    }

    static func tensor(_ dimensions: [Int], as type: GGMLType, seed: Int = 1) throws -> Tensor {
        let shape = Shape(dimensions)
        let values = values(shape.elementCount, seed: seed)
        let bytes = try GGUFWriter.encode(values, as: type, byteCount: type.encoding.byteCount(for: shape))
        return Tensor(name: "t", shape: shape, encoding: type.encoding, storage: .region(bytes))
    }

    static func planned(
        _ tensor: Tensor, as type: GGMLType, transform: GGUFTensorTransform = .none,
        importance: ImportanceWeights? = nil
    ) throws -> GGUFWriter.Planned {
        GGUFWriter.Planned(
            index: 0, tensor: tensor, name: "t", shape: tensor.shape, type: type, transform: transform,
            byteCount: try type.encoding.byteCount(for: tensor.shape), importance: importance)
    }

    static func streamed(_ item: GGUFWriter.Planned, maxBytes: Int) throws -> (bytes: [UInt8], blocks: Int) {
        var bytes: [UInt8] = []
        var blocks = 0
        try GGUFWriter.produce(item, from: item.tensor, maxBytes: maxBytes) { region in
            bytes += region.bytes
            blocks += 1
        }
        return (bytes, blocks)
    }

    @Test(
        "blocks of rows give the whole tensor's bytes",
        arguments: [
            (GGMLType.f32, GGMLType.q4_K, GGUFTensorTransform.none), (.f16, .f32, .addOne), (.bf16, .f16, .none),
            (.f32, .q8_0, .rotaryPermutation(heads: 4)), (.q8_0, .q8_0, .rotaryPermutation(heads: 4)),
            (.q4_K, .f16, .none), (.f32, .q6_K, .addOne),
        ])
    func blocksEqualWhole(from: GGMLType, to: GGMLType, transform: GGUFTensorTransform) throws {
        let item = try Self.planned(try Self.tensor([64, 256], as: from), as: to, transform: transform)
        let whole = try GGUFWriter.produceWhole(item, from: item.tensor).bytes
        // 1000 bytes: a few rows a block, not a whole number of heads (16 rows) for the rotary cases.
        let (bytes, blocks) = try Self.streamed(item, maxBytes: 1000)
        #expect(bytes == whole)
        #expect(blocks > 3)
    }

    @Test("each row takes its own expert's importance values when the rows arrive in blocks")
    func expertImportance() throws {
        let tensor = try Self.tensor([3, 8, 256], as: .f32)
        let weights = Self.values(3 * 256, seed: 5).map { 0.1 + abs($0) }
        let item = try Self.planned(
            tensor, as: .q4_K, importance: ImportanceWeights(values: weights, rowLength: 256))
        let whole = try GGUFWriter.produceWhole(item, from: tensor).bytes
        let (bytes, blocks) = try Self.streamed(item, maxBytes: 3 * 1024)
        #expect(bytes == whole && blocks == 8)
        // And the experts matter: weighting every row by expert 0's values changes the bytes.
        let first = Array(weights.prefix(256))
        let flat = try Self.planned(tensor, as: .q4_K, importance: ImportanceWeights(values: first, rowLength: 256))
        #expect(try GGUFWriter.produceWhole(flat, from: tensor).bytes != whole)
    }

    @Test("a converted tensor streams in blocks of whole rows, each a multiple of rowMultiple but the last")
    func convertedRows() throws {
        let source = try Self.tensor([37, 64], as: .q8_0)
        let graph = try ModelGraph(tensors: [source], sourceFormat: "gguf")
        let converted = try graph.convertingFloatingPoint(to: .bf16).tensors[0]
        var ranges: [Range<Int>] = []
        var bytes: [UInt8] = []
        try converted.forEachRowBlock(maxBytes: 1000, rowMultiple: 3) { rows, block in
            ranges.append(rows)
            bytes += block.bytes
        }
        #expect(bytes == (try converted.loadBytes()).bytes)
        #expect(ranges == stride(from: 0, to: 37, by: 6).map { $0..<min(37, $0 + 6) })
        let f32 = try graph.decodingQuantized(to: .f32).tensors[0]
        #expect(try f32.floatValues() == (try source.floatValues()))
    }
}
