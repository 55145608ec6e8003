import Testing

@testable import AmalgamCore

/// Exhaustive and reference-checked tests of the small-float conversions.
struct FloatBitsTests {
    @Test("every f16 pattern decodes like Float16 and survives f16 -> f32 -> f16")
    func f16Exhaustive() {
        for bits in UInt16.min...UInt16.max {
            let value = FloatBits.float(fromF16: bits)
            let reference = Float(Float16(bitPattern: bits))
            if reference.isNaN {
                #expect(value.isNaN)
                // Payload and sign kept: the f32 mantissa holds the f16 mantissa shifted up.
                #expect(value.bitPattern == (UInt32(bits & 0x8000) << 16) | 0x7F80_0000 | (UInt32(bits & 0x3FF) << 13))
            } else {
                #expect(value.bitPattern == reference.bitPattern, "pattern \(bits)")
            }
            #expect(FloatBits.f16(from: value) == bits, "round trip of \(bits)")
        }
    }

    @Test("f32 -> f16 rounds to nearest even like Float16(_:) on 2^21 patterns, halfway points included")
    func f16Rounding() {
        var random = SeededRandom(seed: 1)
        for step in 0..<(1 << 21) {
            let bits: UInt32
            if step < 1 << 16 {
                // Exact halfway points between adjacent f16 values (and their neighbours).
                let f16 = FloatBits.float(fromF16: UInt16(step)).bitPattern
                bits = f16 &+ (1 << 12) &+ UInt32(step % 3) &- 1
            } else {
                bits = UInt32(truncatingIfNeeded: random.next())
            }
            let value = Float(bitPattern: bits)
            guard !value.isNaN else { continue }
            #expect(FloatBits.f16(from: value) == Float16(value).bitPattern, "f32 pattern \(bits)")
        }
    }

    @Test("the fast f32 -> f16 path equals the generic encoder on every exponent and 2^22 random patterns")
    func f16FastEqualsGeneric() {
        var random = SeededRandom(seed: 9)
        for step in 0..<(1 << 22) {
            let bits =
                step < 1 << 16 ? UInt32(step) << 16 | UInt32(step & 0xFFFF) : UInt32(truncatingIfNeeded: random.next())
            let value = Float(bitPattern: bits)
            #expect(FloatBits.f16(from: value) == UInt16(FloatBits.encode(value, as: .f16)), "f32 pattern \(bits)")
        }
    }

    @Test("NaN payloads: f16 keeps the top bits and stays NaN (payload 1) when they are zero")
    func f16NaN() {
        #expect(FloatBits.f16(from: Float(bitPattern: 0x7F80_0001)) == 0x7C01)  // numpy's choice
        #expect(FloatBits.f16(from: Float(bitPattern: 0xFFC0_0000)) == 0xFE00)
        #expect(FloatBits.float(fromF16: FloatBits.f16(from: .nan)).isNaN)
    }

    /// Correct bf16 rounding computed independently with f64 arithmetic.
    static func referenceBF16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let low = UInt16(truncatingIfNeeded: bits >> 16)
        let lowValue = Double(Float(bitPattern: UInt32(low) << 16))
        let high = low &+ 1
        let highValue = Double(Float(bitPattern: UInt32(high) << 16))  // may be infinity: fine
        let x = Double(value)
        let distanceLow = abs(x - lowValue)
        let distanceHigh =
            highValue.isInfinite
            ? (x - lowValue) * 2 > (Double(Float.greatestFiniteMagnitude) - lowValue) * 2 ? 0 : .infinity
            : abs(highValue - x)
        if distanceLow < distanceHigh { return low }
        if distanceHigh < distanceLow { return high }
        return low & 1 == 0 ? low : high
    }

    @Test("every bf16 pattern survives bf16 -> f32 -> bf16; f32 -> bf16 rounds to nearest even")
    func bf16() {
        for bits in UInt16.min...UInt16.max {
            let value = FloatBits.float(fromBF16: bits)
            #expect(value.bitPattern == UInt32(bits) << 16)
            #expect(FloatBits.bf16(from: value) == bits)
        }
        var random = SeededRandom(seed: 2)
        for _ in 0..<(1 << 18) {
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: random.next()))
            guard value.isFinite, abs(value) < Float.greatestFiniteMagnitude / 2 else { continue }
            #expect(FloatBits.bf16(from: value) == Self.referenceBF16(value), "\(value.bitPattern)")
        }
        // Ties: 1 + 2^-8 is halfway between 1 and 1 + 2^-7 -> even (1).
        #expect(FloatBits.bf16(from: 1 + 0x1p-8) == 0x3F80)
        #expect(FloatBits.bf16(from: 1 + 0x1p-7 + 0x1p-8) == 0x3F82)
        #expect(FloatBits.bf16(from: .greatestFiniteMagnitude) == 0x7F80)  // rounds up to infinity
        #expect(FloatBits.bf16(from: Float(bitPattern: 0x7FC0_0001)) == 0x7FC0)
        #expect(FloatBits.bf16(from: Float(bitPattern: 0x7F80_0001)) == 0x7FC0)  // quiet bit set, stays NaN
    }

    /// The nearest representable value by brute force over every finite pattern; ties to
    /// the even pattern. Returns nil when `value` is beyond the largest finite value's
    /// rounding range.
    static func bruteForce(_ value: Float, decode: (UInt8) -> Float, maxFinite: Float, overflowAt: Double) -> UInt8? {
        if abs(Double(value)) >= overflowAt { return nil }
        var best: UInt8 = 0
        var bestDistance = Double.infinity
        for pattern in UInt8.min...UInt8.max {
            let candidate = decode(pattern)
            guard candidate.isFinite, abs(candidate) <= maxFinite else { continue }
            if (candidate.sign == .minus) != (value.sign == .minus) && candidate != 0 { continue }
            let distance = abs(Double(candidate) - Double(value))
            if distance < bestDistance || (distance == bestDistance && pattern & 1 == 0 && best & 1 == 1) {
                best = pattern
                bestDistance = distance
            }
        }
        // Zero keeps the sign of the input.
        if decode(best) == 0 { return value.sign == .minus ? 0x80 : 0 }
        return best
    }

    @Test("float8 E4M3FN: exhaustive decode, round trip, nearest-even encode, overflow to NaN")
    func e4m3() {
        #expect(FloatBits.float(fromF8E4M3: 0x7E) == 448)
        #expect(FloatBits.float(fromF8E4M3: 0x01) == 0x1p-9)
        #expect(FloatBits.float(fromF8E4M3: 0x08) == 0x1p-6)
        #expect(FloatBits.float(fromF8E4M3: 0x7F).isNaN && FloatBits.float(fromF8E4M3: 0xFF).isNaN)
        #expect(FloatBits.float(fromF8E4M3: 0x80).bitPattern == (-Float.zero).bitPattern)
        for bits in UInt8.min...UInt8.max {
            #expect(FloatBits.f8E4M3(from: FloatBits.float(fromF8E4M3: bits)) == bits)
        }
        #expect(FloatBits.f8E4M3(from: 464) == 0x7E)  // halfway to 480: ties to even (448)
        #expect(FloatBits.f8E4M3(from: 465) == 0x7F)  // NaN: no infinities
        #expect(FloatBits.f8E4M3(from: -.infinity) == 0xFF)
        var random = SeededRandom(seed: 3)
        for step in 0..<20_000 {
            let value = step < 10_000 ? Float(step - 5000) / 9.5 : random.nextSignedUnitFloat() * 0.05
            let expected =
                Self.bruteForce(value, decode: FloatBits.float(fromF8E4M3:), maxFinite: 448, overflowAt: 464.0000001)
                ?? (value < 0 ? 0xFF : 0x7F)
            #expect(FloatBits.f8E4M3(from: value) == expected, "\(value)")
        }
    }

    @Test("float8 E5M2: exhaustive decode, round trip, nearest-even encode, overflow to infinity")
    func e5m2() {
        #expect(FloatBits.float(fromF8E5M2: 0x7B) == 57344)
        #expect(FloatBits.float(fromF8E5M2: 0x7C) == .infinity)
        #expect(FloatBits.float(fromF8E5M2: 0x01) == 0x1p-16)
        for bits in UInt8.min...UInt8.max {
            #expect(FloatBits.f8E5M2(from: FloatBits.float(fromF8E5M2: bits)) == bits)
        }
        #expect(FloatBits.f8E5M2(from: 61440) == 0x7C)  // halfway past the maximum: infinity
        var random = SeededRandom(seed: 4)
        for step in 0..<20_000 {
            let value = step < 10_000 ? Float(step - 5000) * 13.7 : random.nextSignedUnitFloat() * 0.001
            let expected =
                Self.bruteForce(value, decode: FloatBits.float(fromF8E5M2:), maxFinite: 57344, overflowAt: 61440)
                ?? (value < 0 ? 0xFC : 0x7C)
            #expect(FloatBits.f8E5M2(from: value) == expected, "\(value)")
        }
    }

    @Test("f64 -> f16/bf16 rounds once (no double rounding through f32)")
    func noDoubleRounding() {
        // 1 + 2^-11 + 2^-40 lies just above the f16 halfway point between 1 and 1 + 2^-10;
        // through f32 it would become exactly halfway and round down to 1.
        let source: [Double] = [1 + 0x1p-11 + 0x1p-40, 1 + 0x1p-8 + 0x1p-40, -(1 + 0x1p-11 + 0x1p-40), 1e300, -1e-300]
        var f16 = [UInt16](repeating: 0, count: source.count)
        var bf16 = [UInt16](repeating: 0, count: source.count)
        source.withUnsafeBytes { input in
            f16.withUnsafeMutableBytes {
                ElementConversion.convert(input, from: .f64, into: $0, to: .f16, count: source.count)
            }
            bf16.withUnsafeMutableBytes {
                ElementConversion.convert(input, from: .f64, into: $0, to: .bf16, count: source.count)
            }
        }
        #expect(f16 == [0x3C01, 0x3C04, 0xBC01, 0x7C00, 0x8000])
        #expect(bf16[0] == 0x3F80 && bf16[1] == 0x3F81 && bf16[3] == 0x7F80 && bf16[4] == 0x8000)
    }

    @Test(
        "bulk conversion (parallel, unaligned) agrees with the scalar functions",
        arguments: [DType.f16, .bf16, .f8_e4m3, .f8_e5m2, .f64])
    func bulk(target: DType) {
        let count = 3 << 20
        var random = SeededRandom(seed: 5)
        let values = (0..<count).map { _ in random.nextSignedUnitFloat() * 300 }
        // Shift the source by one byte so every load is unaligned.
        var shifted = [UInt8](repeating: 0, count: count * 4 + 1)
        values.withUnsafeBytes { source in
            shifted.withUnsafeMutableBytes {
                UnsafeMutableRawBufferPointer(rebasing: $0[1...]).copyMemory(from: source)
            }
        }
        var output = [UInt8](repeating: 0, count: count * target.byteWidth)
        shifted.withUnsafeBytes { source in
            output.withUnsafeMutableBytes {
                ElementConversion.convert(
                    UnsafeRawBufferPointer(rebasing: source[1...]), from: .f32, into: $0, to: target, count: count)
            }
        }
        var back = [Float](repeating: 0, count: count)
        output.withUnsafeBytes { source in
            back.withUnsafeMutableBytes {
                ElementConversion.convert(source, from: target, into: $0, to: .f32, count: count)
            }
        }
        for index in stride(from: 0, to: count, by: 997) {
            let expected: Float =
                switch target {
                case .f16: FloatBits.float(fromF16: FloatBits.f16(from: values[index]))
                case .bf16: FloatBits.float(fromBF16: FloatBits.bf16(from: values[index]))
                case .f8_e4m3: FloatBits.float(fromF8E4M3: FloatBits.f8E4M3(from: values[index]))
                case .f8_e5m2: FloatBits.float(fromF8E5M2: FloatBits.f8E5M2(from: values[index]))
                default: values[index]
                }
            #expect(back[index].bitPattern == expected.bitPattern || (back[index].isNaN && expected.isNaN))
        }
    }

    @Test("integers decode to f32 by value")
    func integers() {
        let values: [Int16] = [-32768, -1, 0, 7, 32767]
        let decoded = values.withUnsafeBytes { ElementConversion.decodeToFloat($0, from: .i16, count: 5) }
        #expect(decoded == [-32768, -1, 0, 7, 32767])
        let flags: [UInt8] = [0, 1, 2]
        #expect(flags.withUnsafeBytes { ElementConversion.decodeToFloat($0, from: .bool, count: 3) } == [0, 1, 1])
    }
}
