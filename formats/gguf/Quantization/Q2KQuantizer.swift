// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (L is llama.cpp's name for the quantised levels; kept so the code reads against the reference.)

import AmalgamCore

/// The Q2_K encoders of llama.cpp: `quantize_row_q2_K_ref` (no importance matrix) and
/// `quantize_row_q2_K_impl` (with one). Per 16-element sub-block, levels 0...3 with a scale and
/// a minimum; both stored as 4-bit levels of f16 super-block scales. The 84-byte block is
/// scales (16: scale level | minimum level << 4), qs (64: four 2-bit levels per byte), d, dmin.
enum Q2KQuantizer {
    /// `count` super-blocks of 256 values; with `importance` (aligned with `x`) the weighted encoder.
    static func q2K(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int,
        importance: UnsafePointer<Float>? = nil
    ) {
        let L = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: 64)
        let levels = UnsafeMutablePointer<UInt8>.allocate(capacity: 48)
        defer {
            L.deallocate()
            floats.deallocate()
            levels.deallocate()
        }
        let (weights, sumWeights, scales, mins) = (floats, floats + 16, floats + 32, floats + 48)
        let (packed, scaleLevels, minLevels) = (levels, levels + 16, levels + 32)
        for b in 0..<count {
            let v = x + b * 256
            let block = y + b * 84
            var d: (bits: UInt16, value: Float)
            var dmin: (bits: UInt16, value: Float)
            if let importance {
                let qw = importance + b * 256
                var sumX2: Float = 0
                for j in 0..<256 { sumX2 += v[j] * v[j] }
                let sigma2 = sumX2 / 256
                for j in 0..<16 {
                    let sub = v + 16 * j
                    for l in 0..<16 { weights[l] = qw[16 * j + l] * (sigma2 + sub[l] * sub[l]).squareRoot() }
                    var sum: Float = 0
                    for l in 0..<16 { sum += weights[l] }
                    sumWeights[j] = sum
                    let fit = KQuantizer.fitScaleAndMinimum(
                        sub, count: 16, levels: 3, weights: weights, into: L + 16 * j, rmin: -0.9, rdelta: 0.05,
                        steps: 36)
                    scales[j] = fit.scale
                    mins[j] = fit.minimum
                }
                let dm = KQuantizer.fitUnsignedScale(
                    scales, count: 16, levels: 15, weights: sumWeights, into: scaleLevels)
                let mm = KQuantizer.fitUnsignedScale(mins, count: 16, levels: 15, weights: sumWeights, into: minLevels)
                d = KQuantizer.half(dm)
                dmin = KQuantizer.half(mm)
                for j in 0..<16 { packed[j] = scaleLevels[j] | (minLevels[j] << 4) }
            } else {
                var maxScale: Float = 0  // the minimum is taken off, so scales are never negative
                var maxMin: Float = 0
                for j in 0..<16 {
                    let sub = v + 16 * j
                    for l in 0..<16 { weights[l] = abs(sub[l]) }
                    let fit = KQuantizer.fitScaleAndMinimum(
                        sub, count: 16, levels: 3, weights: weights, into: L + 16 * j, rmin: -0.5, rdelta: 0.1,
                        steps: 15, absoluteError: true)
                    scales[j] = fit.scale
                    mins[j] = fit.minimum
                    if fit.scale > maxScale { maxScale = fit.scale }
                    if fit.minimum > maxMin { maxMin = fit.minimum }
                }
                for j in 0..<16 { packed[j] = 0 }
                d = KQuantizer.half(0)
                dmin = KQuantizer.half(0)
                if maxScale > 0 {
                    let iscale = 15 / maxScale
                    for j in 0..<16 { packed[j] = UInt8(truncatingIfNeeded: KQuantizer.nearestInt(iscale * scales[j])) }
                    d = KQuantizer.half(maxScale / 15)
                }
                if maxMin > 0 {
                    let iscale = 15 / maxMin
                    for j in 0..<16 {
                        packed[j] |= UInt8(truncatingIfNeeded: KQuantizer.nearestInt(iscale * mins[j]) << 4)
                    }
                    dmin = KQuantizer.half(maxMin / 15)
                }
            }
            for j in 0..<16 {
                let scale = d.value * Float(packed[j] & 0xF)
                if scale == 0 { continue }
                let minimum = dmin.value * Float(packed[j] >> 4)
                for i in 0..<16 {
                    L[16 * j + i] = UInt8(
                        Swift.max(0, Swift.min(3, KQuantizer.nearestInt((v[16 * j + i] + minimum) / scale))))
                }
            }
            for j in 0..<16 { block.storeBytes(of: packed[j], toByteOffset: j, as: UInt8.self) }
            for j in stride(from: 0, to: 256, by: 128) {
                for l in 0..<32 {
                    let value = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6)
                    block.storeBytes(of: value, toByteOffset: 16 + j / 4 + l, as: UInt8.self)
                }
            }
            block.storeBytes(of: d.bits.littleEndian, toByteOffset: 80, as: UInt16.self)
            block.storeBytes(of: dmin.bits.littleEndian, toByteOffset: 82, as: UInt16.self)
        }
    }
}
