// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (L is llama.cpp's name for the quantised levels; kept so the code reads against the reference.)

import AmalgamCore

/// The Q3_K encoder of llama.cpp's reference quantiser (`quantize_row_q3_K_ref`, no importance
/// matrix): per 16-element sub-block, signed 3-bit levels whose scale is refined by
/// `make_q3_quants`' coordinate search; 6-bit sub-block scales under an f16 super-block scale;
/// the levels picked again against the rounded scales; low two bits in `qs`, the third in `hmask`.
enum Q3KQuantizer {
    /// `make_q3_quants(16, 4, x, L, true)`: levels -4...3 (stored +4), the scale they fit.
    static func fit(_ x: UnsafePointer<Float>, into L: UnsafeMutablePointer<Int8>) -> Float {
        let n = 16
        let nmax = 4
        let (amax, maxValue) = KQuantizer.largestMagnitude(x, count: n)
        if amax < 1e-15 {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        @inline(__always) func clamp(_ l: Int) -> Int { Swift.max(-nmax, Swift.min(nmax - 1, l)) }
        let iscale = -Float(nmax) / maxValue
        var sumlx: Float = 0
        var suml2: Float = 0
        for i in 0..<n {
            let l = clamp(KQuantizer.nearestInt(iscale * x[i]))
            L[i] = Int8(l)
            let w = x[i] * x[i]
            sumlx += w * x[i] * Float(l)
            suml2 += w * Float(l) * Float(l)
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let w = x[i] * x[i]
                let current = Float(L[i])
                var slx = sumlx - w * x[i] * current
                if slx > 0 {
                    var sl2 = suml2 - w * current * current
                    let newL = clamp(KQuantizer.nearestInt(x[i] * sl2 / slx))
                    if newL != Int(L[i]) {
                        slx += w * x[i] * Float(newL)
                        sl2 += w * Float(newL) * Float(newL)
                        if sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2 {
                            L[i] = Int8(newL)
                            sumlx = slx
                            suml2 = sl2
                            changed += 1
                        }
                    }
                }
            }
            if changed == 0 { break }
        }
        for i in 0..<n { L[i] += Int8(nmax) }
        return suml2 > 0 ? sumlx / suml2 : 0
    }

    /// `count` super-blocks of 256 values into 110-byte Q3_K blocks (hmask 32, qs 64, scales
    /// 12, d).
    static func q3K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int) {
        var levels = [Int8](repeating: 0, count: 256)
        var scales = [Float](repeating: 0, count: 16)
        // Per-block scratch, allocated once per call and cleared per block.
        var bytes = [UInt8](repeating: 0, count: 12)
        var mask = [UInt8](repeating: 0, count: 32)
        levels.withUnsafeMutableBufferPointer { buffer in
            let L = buffer.baseAddress!
            for block in 0..<count {
                let xs = x + block * 256
                let out = y + block * 110
                let hmask = out
                let qs = out + 32
                let packed = out + 96
                var maxScale: Float = 0
                var amax: Float = 0
                for j in 0..<16 {
                    scales[j] = fit(xs + 16 * j, into: L + 16 * j)
                    if abs(scales[j]) > amax {
                        amax = abs(scales[j])
                        maxScale = scales[j]
                    }
                }
                for i in 0..<12 { bytes[i] = 0 }
                var d: UInt16 = 0
                if maxScale != 0 {
                    let iscale = -32 / maxScale
                    for j in 0..<16 {
                        var l = UInt8(Swift.max(-32, Swift.min(31, KQuantizer.nearestInt(iscale * scales[j]))) + 32)
                        if j < 8 { bytes[j] = l & 0xF } else { bytes[j - 8] |= (l & 0xF) << 4 }
                        l >>= 4
                        bytes[j % 4 + 8] |= l << UInt8(2 * (j / 4))
                    }
                    d = FloatBits.f16(from: 1 / iscale)
                }
                let scale = FloatBits.float(fromF16: d)
                for j in 0..<16 {
                    let low = j < 8 ? bytes[j] & 0xF : bytes[j - 8] >> 4
                    let high = (bytes[8 + j % 4] >> UInt8(2 * (j / 4))) & 3
                    let sc = Int(low | (high << 4)) - 32
                    let subScale = scale * Float(sc)
                    if subScale == 0 { continue }
                    for i in 0..<16 {
                        let l = Swift.max(-4, Swift.min(3, KQuantizer.nearestInt(xs[16 * j + i] / subScale)))
                        L[16 * j + i] = Int8(l + 4)
                    }
                }
                for i in 0..<12 { packed.storeBytes(of: bytes[i], toByteOffset: i, as: UInt8.self) }
                out.storeBytes(of: d.littleEndian, toByteOffset: 108, as: UInt16.self)
                mask.withUnsafeMutableBufferPointer { store(L, hmask: hmask, qs: qs, mask: $0.baseAddress!) }
            }
        }
    }

    /// `quantize_row_q3_K_impl` with an importance matrix (aligned with `x`): each sub-block's
    /// signed levels fitted by `make_qx_quants` under weights `importance · sqrt(σ² + x²)` (σ²
    /// twice the super-block's mean square), the 16 scales by `make_qx_quants` under the
    /// sub-blocks' weight sums.
    static func q3KWeighted(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int, importance: UnsafePointer<Float>
    ) {
        let L = UnsafeMutablePointer<Int8>.allocate(capacity: 256)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: 48)
        let scaleLevels = UnsafeMutablePointer<Int8>.allocate(capacity: 16)
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 44)
        defer {
            L.deallocate()
            floats.deallocate()
            scaleLevels.deallocate()
            bytes.deallocate()
        }
        let (weight, sumWeights, scales) = (floats, floats + 16, floats + 32)
        let (packed, mask) = (bytes, bytes + 12)
        for block in 0..<count {
            let xs = x + block * 256
            let qw = importance + block * 256
            let out = y + block * 110
            var sumX2: Float = 0
            for j in 0..<256 { sumX2 += xs[j] * xs[j] }
            let sigma2 = 2 * sumX2 / 256
            for j in 0..<16 {
                let sub = xs + 16 * j
                for l in 0..<16 { weight[l] = qw[16 * j + l] * (sigma2 + sub[l] * sub[l]).squareRoot() }
                var sum: Float = 0
                for l in 0..<16 { sum += weight[l] }
                sumWeights[j] = sum
                scales[j] = KQuantizer.fitSignedScale(sub, count: 16, levels: 4, into: L + 16 * j, weights: weight)
            }
            for i in 0..<12 { packed[i] = 0 }
            let blockScale = KQuantizer.fitSignedScale(
                scales, count: 16, levels: 32, into: scaleLevels, weights: sumWeights)
            for j in 0..<16 {
                var l = UInt8(bitPattern: scaleLevels[j])
                if j < 8 { packed[j] = l & 0xF } else { packed[j - 8] |= (l & 0xF) << 4 }
                l >>= 4
                packed[j % 4 + 8] |= l << UInt8(2 * (j / 4))
            }
            let d = KQuantizer.half(blockScale)
            for j in 0..<16 {
                let low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4
                let high = (packed[8 + j % 4] >> UInt8(2 * (j / 4))) & 3
                let subScale = d.value * Float(Int(low | (high << 4)) - 32)
                if subScale == 0 { continue }
                for i in 0..<16 {
                    let l = Swift.max(-4, Swift.min(3, KQuantizer.nearestInt(xs[16 * j + i] / subScale)))
                    L[16 * j + i] = Int8(l + 4)
                }
            }
            for i in 0..<12 { out.storeBytes(of: packed[i], toByteOffset: 96 + i, as: UInt8.self) }
            out.storeBytes(of: d.bits.littleEndian, toByteOffset: 108, as: UInt16.self)
            store(L, hmask: out, qs: out + 32, mask: mask)
        }
    }

    /// The levels (0...7) of one super-block: the third bit of the first 32 to bit 0 of
    /// hmask[0...31], the next 32 to bit 1...; the low two bits four to a byte in `qs`.
    static func store(
        _ L: UnsafeMutablePointer<Int8>, hmask: UnsafeMutableRawPointer, qs: UnsafeMutableRawPointer,
        mask: UnsafeMutablePointer<UInt8>
    ) {
        for i in 0..<32 { mask[i] = 0 }
        for j in 0..<256 where L[j] > 3 {
            mask[j % 32] |= UInt8(1) << UInt8(j / 32)
            L[j] -= 4
        }
        for i in 0..<32 { hmask.storeBytes(of: mask[i], toByteOffset: i, as: UInt8.self) }
        for j in stride(from: 0, to: 256, by: 128) {
            for l in 0..<32 {
                let value =
                    UInt8(L[j + l]) | (UInt8(L[j + l + 32]) << 2) | (UInt8(L[j + l + 64]) << 4)
                    | (UInt8(L[j + l + 96]) << 6)
                qs.storeBytes(of: value, toByteOffset: j / 4 + l, as: UInt8.self)
            }
        }
    }
}
