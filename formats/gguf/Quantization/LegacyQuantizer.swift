// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (one function per ggml type, named as ggml names it.)

import AmalgamCore

/// Encoders for ggml's 32-element block types, producing the bytes gguf-py's
/// `quants.quantize` produces: the same f32 operations in the same order (gguf-py mirrors
/// ggml's `quantize_row_*_ref`), scales rounded to f16 to nearest even.
enum LegacyQuantizer {
    @inline(__always) static func storeHalf(_ value: Float, _ p: UnsafeMutableRawPointer, _ offset: Int) {
        p.storeBytes(of: FloatBits.f16(from: value), toByteOffset: offset, as: UInt16.self)
    }

    /// The element of largest magnitude (the first one on ties), with its sign.
    @inline(__always) static func signedAbsMax(_ x: UnsafePointer<Float>) -> Float {
        var best: Float = 0
        var bestMagnitude: Float = -1
        for j in 0..<32 where abs(x[j]) > bestMagnitude {
            bestMagnitude = abs(x[j])
            best = x[j]
        }
        return best
    }

    @inline(__always) static func minMax(_ x: UnsafePointer<Float>) -> (Float, Float) {
        var low = x[0]
        var high = x[0]
        for j in 1..<32 {
            low = min(low, x[j])
            high = max(high, x[j])
        }
        return (low, high)
    }

    /// The inverse scale `1 / d` (0 for `d == 0`), or nil where it overflows (`d` denormal):
    /// gguf-py's and ggml's integer conversions of the infinities that follow give 0, so such a
    /// block's quantised values are all zeros (its f16 scale is 0 too).
    @inline(__always) static func inverseScale(_ d: Float) -> Float? {
        let id: Float = d == 0 ? 0 : 1 / d
        return id.isFinite ? id : nil
    }

    /// Zeros a block's `count` quantised bytes from `offset` (`inverseScale` nil).
    @inline(__always) static func zeroBytes(_ block: UnsafeMutableRawPointer, from offset: Int, count: Int) {
        (block + offset).initializeMemory(as: UInt8.self, repeating: 0, count: count)
    }

    /// `floor(value)` for `0 <= value < 2²²` without a `floorf` call (baseline x86-64 has no
    /// rounding instruction) or a branch, so the encoders' loops vectorise: the nearest integer
    /// (`+ 2²³ - 2²³`) less one where that rounded up.
    @inline(__always) static func floorOfSmall(_ value: Float) -> Float {
        let nearest = (value + 0x1p23) - 0x1p23
        return nearest > value ? nearest - 1 : nearest
    }

    /// A whole number `0 <= value < 256` as its byte: the low mantissa bits of `value + 2²³`
    /// (no range-checked conversion, which would stop vectorisation).
    @inline(__always) static func byte(ofWhole value: Float) -> UInt8 {
        UInt8(truncatingIfNeeded: (value + 0x1p23).bitPattern)
    }

    /// `value` rounded toward zero as a byte in `0...upper` (NaN and negatives 0, values from
    /// `upper` up and +infinity `upper`: only non-finite or denormal-scaled blocks need the
    /// clamp), branch-free.
    @inline(__always) static func truncatedByte(_ value: Float, upTo upper: UInt8) -> UInt8 {
        let clamped = value >= 0 ? (value < Float(upper) ? value : Float(upper)) : 0
        return byte(ofWhole: floorOfSmall(clamped))
    }

    /// Branch-free so that both loops vectorise (a Swift float-to-integer conversion checks its
    /// range and stops that): the magnitude's maximum as the maximum of its bit patterns (the
    /// same order for finite non-negative floats), and the rounding through `floorOfSmall`.
    static func q8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int) {
        for b in 0..<count {
            let v = x + b * 32
            let block = y + b * 34
            var largest: UInt32 = 0
            for j in 0..<32 { largest = Swift.max(largest, v[j].bitPattern & 0x7FFF_FFFF) }
            let d = Float(bitPattern: largest) / 127
            storeHalf(d, block, 0)
            guard let id = inverseScale(d) else {
                zeroBytes(block, from: 2, count: 32)
                continue
            }
            let q = (block + 2).bindMemory(to: UInt8.self, capacity: 32)
            for j in 0..<32 {
                // gguf-py's np_roundf: floor(m) + floor(2 (m - floor(m))) on m = |v · id| <= 127.
                let scaled = v[j] * id
                let magnitude = abs(scaled)
                let whole = floorOfSmall(magnitude)
                let integer = byte(ofWhole: whole + (2 * (magnitude - whole) >= 1 ? 1 : 0))
                q[j] = scaled < 0 ? 0 &- integer : integer
            }
        }
    }

    static func q4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int) {
        for b in 0..<count {
            let v = x + b * 32
            let block = y + b * 18
            let d = signedAbsMax(v) / -8
            storeHalf(d, block, 0)
            guard let id = inverseScale(d) else {
                zeroBytes(block, from: 2, count: 16)
                continue
            }
            for j in 0..<16 {
                let low = truncatedByte(v[j] * id + 8.5, upTo: 15)
                let high = truncatedByte(v[j + 16] * id + 8.5, upTo: 15)
                block.storeBytes(of: low | high << 4, toByteOffset: 2 + j, as: UInt8.self)
            }
        }
    }

    static func q4_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int) {
        for b in 0..<count {
            let v = x + b * 32
            let block = y + b * 20
            let (low, high) = minMax(v)
            let d = (high - low) / 15
            storeHalf(d, block, 0)
            storeHalf(low, block, 2)
            guard let id = inverseScale(d) else {
                zeroBytes(block, from: 4, count: 16)
                continue
            }
            for j in 0..<16 {
                let q0 = truncatedByte((v[j] - low) * id + 0.5, upTo: 15)
                let q1 = truncatedByte((v[j + 16] - low) * id + 0.5, upTo: 15)
                block.storeBytes(of: q0 | q1 << 4, toByteOffset: 4 + j, as: UInt8.self)
            }
        }
    }

    static func q5_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int) {
        for b in 0..<count {
            let v = x + b * 32
            let block = y + b * 22
            let d = signedAbsMax(v) / -16
            storeHalf(d, block, 0)
            guard let id = inverseScale(d) else {
                zeroBytes(block, from: 2, count: 20)
                continue
            }
            var qh: UInt32 = 0
            for j in 0..<16 {
                let q0 = truncatedByte(v[j] * id + 16.5, upTo: 31)
                let q1 = truncatedByte(v[j + 16] * id + 16.5, upTo: 31)
                qh |= UInt32(q0 >> 4) << UInt32(j) | UInt32(q1 >> 4) << UInt32(j + 16)
                block.storeBytes(of: (q0 & 15) | (q1 << 4), toByteOffset: 6 + j, as: UInt8.self)
            }
            block.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
        }
    }

    static func q5_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int) {
        for b in 0..<count {
            let v = x + b * 32
            let block = y + b * 24
            let (low, high) = minMax(v)
            let d = (high - low) / 31
            storeHalf(d, block, 0)
            storeHalf(low, block, 2)
            guard let id = inverseScale(d) else {
                zeroBytes(block, from: 4, count: 20)
                continue
            }
            var qh: UInt32 = 0
            for j in 0..<16 {
                let q0 = truncatedByte((v[j] - low) * id + 0.5, upTo: 31)
                let q1 = truncatedByte((v[j + 16] - low) * id + 0.5, upTo: 31)
                qh |= UInt32(q0 >> 4) << UInt32(j) | UInt32(q1 >> 4) << UInt32(j + 16)
                block.storeBytes(of: (q0 & 15) | (q1 << 4), toByteOffset: 8 + j, as: UInt8.self)
            }
            block.storeBytes(of: qh.littleEndian, toByteOffset: 4, as: UInt32.self)
        }
    }
}
