import AmalgamCore
import TestSupport
import Testing

@testable import GGUFFormat

struct QuantizerTests {
    static func roundTrip(_ values: [Float], _ type: GGMLType) throws -> [Float] {
        let (elements, bytes) = type.blockLayout
        var blocks = [UInt8](repeating: 0, count: values.count / elements * bytes)
        try values.withUnsafeBufferPointer { source in
            try blocks.withUnsafeMutableBytes { try GGUFQuantizer.encode(source, as: type, into: $0) }
        }
        return try TensorEncoding.quantized(QuantizedEncoding(GGMLCodec(type: type)))
            .decodeToFloat(ByteRegion(copying: blocks), elementCount: values.count)
    }

    @Test(
        "encode then decode stays within each type's error",
        arguments: [
            (GGMLType.q8_0, 0.01), (.q4_0, 0.13), (.q4_1, 0.12), (.q5_0, 0.065), (.q5_1, 0.06), (.q2_K, 0.31),
            (.q3_K, 0.16), (.q4_K, 0.095),
            (.q5_K, 0.048), (.q6_K, 0.024),
        ])
    func errorBound(type: GGMLType, bound: Double) throws {
        var random = SeededRandom(seed: 7)
        let values = (0..<(256 * 64)).map { _ in Float(random.nextGaussian()) }
        let decoded = try Self.roundTrip(values, type)
        let error = zip(values, decoded).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        let energy = values.reduce(0.0) { $0 + Double($1 * $1) }
        #expect((error / energy).squareRoot() < bound)
    }

    @Test("zero blocks decode to zeros; NaN and infinity are refused", arguments: Array(GGUFQuantizer.encodable))
    func edges(type: GGMLType) throws {
        #expect(try Self.roundTrip([Float](repeating: 0, count: 256), type).allSatisfy { $0 == 0 })
        var values = [Float](repeating: 1, count: 256)
        values[77] = .nan
        #expect(throws: AmalgamError.self) { try Self.roundTrip(values, type) }
        values[77] = .infinity
        #expect(throws: AmalgamError.self) { try Self.roundTrip(values, type) }
    }

    @Test(
        "blocks of tiny values (a scale without a finite inverse) encode and decode as zeros, as gguf-py's",
        arguments: Array(GGUFQuantizer.encodable))
    func tinyBlocks(type: GGMLType) throws {
        // 1e-38 / 127 is an f32 subnormal whose inverse overflows; Q8_0 once crashed on it.
        var values = [Float](repeating: 1e-38, count: 256)
        for j in stride(from: 0, to: 256, by: 3) { values[j] = -3e-39 }
        let decoded = try Self.roundTrip(values, type)
        #expect(decoded.allSatisfy { abs($0) < 1e-30 })
        // The 32-element types' quantised values (after their f16 scale, and minimum) are zeros,
        // as gguf-py's and ggml's integer conversions of the overflowing products give.
        let quantised: [GGMLType: Range<Int>] = [
            .q8_0: 2..<34, .q4_0: 2..<18, .q4_1: 4..<20, .q5_0: 2..<22, .q5_1: 4..<24,
        ]
        guard let range = quantised[type] else { return }
        let (elements, bytes) = type.blockLayout
        var blocks = [UInt8](repeating: 0xFF, count: values.count / elements * bytes)
        try values.withUnsafeBufferPointer { source in
            try blocks.withUnsafeMutableBytes { try GGUFQuantizer.encode(source, as: type, into: $0) }
        }
        for block in 0..<(values.count / elements) {
            #expect(
                blocks[(block * bytes + range.lowerBound)..<(block * bytes + range.upperBound)].allSatisfy { $0 == 0 })
        }
    }
}
