import AmalgamCore
import Testing

@testable import GGUFFormat

/// The rounding-noise energy of hand-made blocks equals Σ Δ²/12 computed by hand.
struct RoundingStepsTests {
    private func energy(_ type: GGMLType, _ bytes: [UInt8]) -> Double? {
        bytes.withUnsafeBytes { GGMLCodec(type: type).roundingErrorEnergy($0) }
    }

    private func half(_ value: Float) -> [UInt8] {
        let bits = FloatBits.f16(from: value)
        return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
    }

    @Test("Q8_0 and Q4_0: the block scale is the step, for each of 32 values")
    func legacyBlocks() {
        let q8 = half(0.5) + [UInt8](repeating: 7, count: 32) + half(-2) + [UInt8](repeating: 0, count: 32)
        #expect(energy(.q8_0, q8) == (32 * 0.25 + 32 * 4.0) / 12)
        let q4 = half(0.25) + [UInt8](repeating: 0x88, count: 16)
        #expect(energy(.q4_0, q4) == 32 * 0.0625 / 12)
    }

    @Test("Q4_K: d times each of the eight 6-bit sub-block scales, for 32 values each")
    func kQuantBlock() {
        // scales[0...3] hold sub-blocks 0-3 (low 6 bits); 4-7 come from scales[8...11] and
        // the high bits of scales[0...3], here zero.
        var scales = [UInt8](repeating: 0, count: 12)
        let expected: [Double] = [1, 2, 3, 4, 5, 6, 7, 8]
        for j in 0..<4 { scales[j] = UInt8(expected[j]) }
        for j in 4..<8 { scales[j + 4] = UInt8(expected[j]) }
        let block = half(0.5) + half(0.125) + scales + [UInt8](repeating: 0, count: 128)
        let byHand = expected.reduce(0.0) { $0 + 32 * (0.5 * $1) * (0.5 * $1) } / 12
        #expect(energy(.q4_K, block) == byHand)
    }

    @Test("types without a uniform step give no estimate; a partial block is refused")
    func unknown() {
        #expect(energy(.iq2_XXS, [UInt8](repeating: 0, count: 66)) == nil)
        #expect(energy(.q8_0, [UInt8](repeating: 0, count: 35)) == nil)
        #expect(energy(.q8_0, []) == 0)
    }
}
