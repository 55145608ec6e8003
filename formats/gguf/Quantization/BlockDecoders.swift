// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (one function per ggml type, named as ggml names it.)

import AmalgamCore

/// Dequantisation of ggml blocks to f32, one function per type.
///
/// Each follows the layout in ggml-common.h and performs the same f32 operations in the
/// same order as gguf-py's `dequantize_blocks` (multiply, then add or subtract; never
/// fused), so results are bit-identical to it. Every function reads `count` whole blocks at
/// `x` and writes `count * blockElements` floats at `y`; callers check the sizes.
enum BlockDecoders {
    @inline(__always) static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        FloatBits.float(fromF16: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always) static func bytes(_ p: UnsafeRawPointer, _ offset: Int) -> UnsafePointer<UInt8> {
        (p + offset).assumingMemoryBound(to: UInt8.self)
    }

    /// IQ4_NL's non-linear 4-bit grid (also IQ4_XS's).
    static let iq4Grid: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
    /// E2M1 values doubled (MXFP4, NVFP4).
    static let e2m1Doubled: [Int8] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12]

    // MARK: 32-element blocks

    static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 18
            let out = y + b * 32
            let d = half(block, 0)
            let qs = bytes(block, 2)
            for j in 0..<16 {
                out[j] = d * Float(Int8(qs[j] & 15) - 8)
                out[j + 16] = d * Float(Int8(qs[j] >> 4) - 8)
            }
        }
    }

    static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 20
            let out = y + b * 32
            let d = half(block, 0)
            let m = half(block, 2)
            let qs = bytes(block, 4)
            for j in 0..<16 {
                out[j] = d * Float(qs[j] & 15) + m
                out[j + 16] = d * Float(qs[j] >> 4) + m
            }
        }
    }

    static func q5_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 22
            let out = y + b * 32
            let d = half(block, 0)
            let qh = block.loadUnaligned(fromByteOffset: 2, as: UInt32.self)
            let qs = bytes(block, 6)
            for j in 0..<16 {
                let h0 = UInt8(truncatingIfNeeded: ((qh >> UInt32(j)) << 4) & 0x10)
                let h1 = UInt8(truncatingIfNeeded: (qh >> UInt32(j + 12)) & 0x10)
                out[j] = d * Float(Int8((qs[j] & 15) | h0) - 16)
                out[j + 16] = d * Float(Int8((qs[j] >> 4) | h1) - 16)
            }
        }
    }

    static func q5_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 24
            let out = y + b * 32
            let d = half(block, 0)
            let m = half(block, 2)
            let qh = block.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            let qs = bytes(block, 8)
            for j in 0..<16 {
                let h0 = UInt8(truncatingIfNeeded: ((qh >> UInt32(j)) << 4) & 0x10)
                let h1 = UInt8(truncatingIfNeeded: (qh >> UInt32(j + 12)) & 0x10)
                out[j] = d * Float((qs[j] & 15) | h0) + m
                out[j + 16] = d * Float((qs[j] >> 4) | h1) + m
            }
        }
    }

    static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 34
            let out = y + b * 32
            let d = half(block, 0)
            let qs = bytes(block, 2)
            for j in 0..<32 { out[j] = Float(Int8(bitPattern: qs[j])) * d }
        }
    }

    /// Q8_1: d, s (the block sum, unused for values), 32 signed bytes.
    static func q8_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 36
            let out = y + b * 32
            let d = half(block, 0)
            let qs = bytes(block, 4)
            for j in 0..<32 { out[j] = d * Float(Int8(bitPattern: qs[j])) }
        }
    }

    static func iq4_NL(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        iq4Grid.withUnsafeBufferPointer { grid in
            for b in 0..<count {
                let block = x + b * 18
                let out = y + b * 32
                let d = half(block, 0)
                let qs = bytes(block, 2)
                for j in 0..<16 {
                    out[j] = d * Float(grid[Int(qs[j] & 15)])
                    out[j + 16] = d * Float(grid[Int(qs[j] >> 4)])
                }
            }
        }
    }

    /// MXFP4: one E8M0 exponent byte (as ggml's `e8m0_to_fp32_half`), 16 bytes of E2M1 pairs.
    static func mxfp4(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        e2m1Doubled.withUnsafeBufferPointer { grid in
            for b in 0..<count {
                let block = x + b * 17
                let out = y + b * 32
                let e = UInt32(bytes(block, 0)[0])
                let d = Float(bitPattern: e < 2 ? 0x0020_0000 << e : (e - 1) << 23)
                let qs = bytes(block, 1)
                for k in 0..<16 {
                    out[k] = d * Float(grid[Int(qs[k] & 15)])
                    out[k + 16] = d * Float(grid[Int(qs[k] >> 4)])
                }
            }
        }
    }

    /// NVFP4: four unsigned E4M3 scales (halved), each for 16 E2M1 values.
    static func nvfp4(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        func scale(_ byte: UInt8) -> Float {
            if byte == 0 || byte == 0x7F { return 0 }
            let exponent = Int((byte >> 3) & 15)
            let mantissa = Float(byte & 7)
            let raw =
                exponent == 0
                ? mantissa * 0x1p-9 : (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
            return raw * 0.5
        }
        e2m1Doubled.withUnsafeBufferPointer { grid in
            for b in 0..<count {
                let block = x + b * 36
                let out = y + b * 64
                let scales = bytes(block, 0)
                let qs = bytes(block, 4)
                for s in 0..<4 {
                    let d = scale(scales[s])
                    for k in 0..<8 {
                        out[s * 16 + k] = d * Float(grid[Int(qs[s * 8 + k] & 15)])
                        out[s * 16 + 8 + k] = d * Float(grid[Int(qs[s * 8 + k] >> 4)])
                    }
                }
            }
        }
    }

    // MARK: 256-element super-blocks

    static func q2_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 84
            let out = y + b * 256
            let scales = bytes(block, 0)
            let qs = bytes(block, 16)
            let d = half(block, 80)
            let dmin = half(block, 82)
            for group in 0..<16 {
                let dl = d * Float(scales[group] & 15)
                let ml = dmin * Float(scales[group] >> 4)
                // Values 16g..16g+15 lie in one 32-byte chunk c at one 2-bit shift s.
                let c = group / 8
                let s = (group % 8) / 2
                let first = (group % 2) * 16
                for l in first..<(first + 16) {
                    let q = (qs[c * 32 + l] >> UInt8(2 * s)) & 3
                    out[group * 16 + l - first] = dl * Float(q) - ml
                }
            }
        }
    }

    static func q3_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 110
            let out = y + b * 256
            let hmask = bytes(block, 0)
            let qs = bytes(block, 32)
            let packed = bytes(block, 96)
            let d = half(block, 108)
            for group in 0..<16 {
                let dl = d * Float(q3KScale(packed, group))
                for i in (group * 16)..<(group * 16 + 16) {
                    let c = i / 128
                    let s = (i % 128) / 32
                    let l = i % 32
                    let ql = (qs[c * 32 + l] >> UInt8(2 * s)) & 3
                    let hbit = (hmask[l] >> UInt8(c * 4 + s)) & 1
                    out[i] = dl * Float(Int8(ql) - Int8((hbit ^ 1) << 2))
                }
            }
        }
    }

    /// Q3_K's 6-bit signed scale of 16-value group `group` (of 16), from its 12 packed bytes.
    @inline(__always) static func q3KScale(_ packed: UnsafePointer<UInt8>, _ group: Int) -> Int8 {
        let low = group < 8 ? packed[group] & 15 : packed[group - 8] >> 4
        let high = (packed[8 + group % 4] >> UInt8(2 * (group / 4))) & 3
        return Int8(bitPattern: low | high << 4) - 32
    }

    /// IQ4_XS's 6-bit signed scale of 32-value sub-block `j` (of 8) of the block at `block`.
    @inline(__always) static func iq4XSScale(_ block: UnsafeRawPointer, _ j: Int) -> Int8 {
        let scalesHigh = block.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
        let low = (bytes(block, 4)[j / 2] >> UInt8(4 * (j % 2))) & 15
        let high = UInt8(truncatingIfNeeded: scalesHigh >> UInt16(2 * j)) & 3
        return Int8(bitPattern: low | high << 4) - 32
    }

    /// The eight 6-bit (scale, min) pairs of Q4_K and Q5_K.
    @inline(__always) static func scaleMin(_ s: UnsafePointer<UInt8>, _ j: Int) -> (UInt8, UInt8) {
        if j < 4 { return (s[j] & 63, s[j + 4] & 63) }
        return ((s[j + 4] & 15) | ((s[j - 4] >> 2) & 0x30), (s[j + 4] >> 4) | ((s[j] >> 2) & 0x30))
    }

    static func q4_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 144
            let out = y + b * 256
            let d = half(block, 0)
            let dmin = half(block, 2)
            let scales = bytes(block, 4)
            let qs = bytes(block, 16)
            for j in 0..<8 {
                let (sc, mn) = scaleMin(scales, j)
                let dj = d * Float(sc)
                let mj = dmin * Float(mn)
                let c = j / 2
                let shift = UInt8(4 * (j % 2))
                for l in 0..<32 { out[j * 32 + l] = dj * Float((qs[c * 32 + l] >> shift) & 15) - mj }
            }
        }
    }

    static func q5_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 176
            let out = y + b * 256
            let d = half(block, 0)
            let dmin = half(block, 2)
            let scales = bytes(block, 4)
            let qh = bytes(block, 16)
            let qs = bytes(block, 48)
            for j in 0..<8 {
                let (sc, mn) = scaleMin(scales, j)
                let dj = d * Float(sc)
                let mj = dmin * Float(mn)
                let c = j / 2
                let shift = UInt8(4 * (j % 2))
                for l in 0..<32 {
                    let q = ((qs[c * 32 + l] >> shift) & 15) | (((qh[l] >> UInt8(j)) & 1) << 4)
                    out[j * 32 + l] = dj * Float(q) - mj
                }
            }
        }
    }

    static func q6_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 210
            let out = y + b * 256
            let ql = bytes(block, 0)
            let qh = bytes(block, 128)
            let scales = bytes(block, 192)
            let d = half(block, 208)
            for group in 0..<16 {
                let dg = d * Float(Int8(bitPattern: scales[group]))
                for i in (group * 16)..<(group * 16 + 16) {
                    let c = i / 128
                    let k = i % 128
                    let low = (ql[c * 64 + k % 64] >> UInt8(4 * (k / 64))) & 15
                    let high = (qh[c * 32 + k % 32] >> UInt8(2 * (k / 32))) & 3
                    out[i] = dg * Float(Int8(bitPattern: low | high << 4) - 32)
                }
            }
        }
    }

    /// Q8_K: f32 scale, 256 signed bytes, 16 i16 block sums (unused for values).
    static func q8_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 292
            let out = y + b * 256
            let d = block.loadUnaligned(fromByteOffset: 0, as: Float.self)
            let qs = bytes(block, 4)
            for j in 0..<256 { out[j] = d * Float(Int8(bitPattern: qs[j])) }
        }
    }

    static func iq4_XS(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        iq4Grid.withUnsafeBufferPointer { grid in
            for b in 0..<count {
                let block = x + b * 136
                let out = y + b * 256
                let d = half(block, 0)
                let qs = bytes(block, 8)
                for j in 0..<8 {
                    let dl = d * Float(iq4XSScale(block, j))
                    for k in 0..<16 {
                        out[j * 32 + k] = dl * Float(grid[Int(qs[j * 16 + k] & 15)])
                        out[j * 32 + 16 + k] = dl * Float(grid[Int(qs[j * 16 + k] >> 4)])
                    }
                }
            }
        }
    }

    /// TQ1_0: ternary digits packed five (or four) to a byte in base 3, scaled to 0..255.
    static func tq1_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        let powers: [UInt8] = [1, 3, 9, 27, 81]
        @inline(__always) func trit(_ byte: UInt8, _ power: UInt8) -> Float {
            let shifted = byte &* power
            return Float(Int8((UInt16(shifted) * 3) >> 8) - 1)
        }
        for b in 0..<count {
            let block = x + b * 54
            let out = y + b * 256
            let qs = bytes(block, 0)
            let qh = bytes(block, 48)
            let d = half(block, 52)
            for n in 0..<5 {
                for l in 0..<32 { out[n * 32 + l] = d * trit(qs[l], powers[n]) }
                for l in 0..<16 { out[160 + n * 16 + l] = d * trit(qs[32 + l], powers[n]) }
            }
            for n in 0..<4 {
                for l in 0..<4 { out[240 + n * 4 + l] = d * trit(qh[l], powers[n]) }
            }
        }
    }

    static func tq2_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        for b in 0..<count {
            let block = x + b * 66
            let out = y + b * 256
            let qs = bytes(block, 0)
            let d = half(block, 64)
            for i in 0..<256 {
                let c = i / 128
                let s = (i % 128) / 32
                let l = i % 32
                out[i] = d * Float(Int8((qs[c * 32 + l] >> UInt8(2 * s)) & 3) - 1)
            }
        }
    }
}
