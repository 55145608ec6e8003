// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (L is llama.cpp's name for the quantised levels; kept so the code reads against the reference.)

import AmalgamCore

/// Encoders for Q4_K, Q5_K and Q6_K following llama.cpp's reference quantiser
/// (`quantize_row_q{4,5,6}_K_ref`, no importance matrix): per 32-element (Q4/Q5) or
/// 16-element (Q6) sub-block, a weighted least-squares search for scale and minimum, then
/// 6-bit (8-bit for Q6) sub-block scales under an f16 super-block scale, and a final
/// re-quantisation against the rounded scales.
///
/// The C reference is usually compiled with fused multiply-add, so bytes can differ from a
/// given llama.cpp build in the last place of a scale; the decoded error bound is the same.
enum KQuantizer {
    /// Round half to even, as ggml's `nearest_int` (adds 1.5 * 2^23), for finite values;
    /// beyond ±4194303 it gives ±4194303. Branch-free: it runs in every inner loop.
    @inline(__always) static func nearestInt(_ value: Float) -> Int {
        let shifted = Swift.min(Swift.max(value, -4_194_303), 4_194_303) + 12_582_912
        return Int(shifted.bitPattern & 0x007F_FFFF) &- 0x0040_0000
    }

    @inline(__always) static func half(_ value: Float) -> (bits: UInt16, value: Float) {
        let bits = FloatBits.f16(from: value)
        return (bits, FloatBits.float(fromF16: bits))
    }

    /// `make_qkx2_quants` (and `make_qkx3_quants`, the same search with the weights always
    /// given): levels 0...nmax with scale and (non-positive) minimum fitted by weighted least
    /// squares over `steps + 1` trial scales, trials compared by weighted squared error or, with
    /// `absoluteError` (Q2_K's), weighted absolute error. Returns (scale, -minimum).
    static func fitScaleAndMinimum(
        _ x: UnsafePointer<Float>, count n: Int, levels nmax: Int, weights: UnsafePointer<Float>,
        into L: UnsafeMutablePointer<UInt8>,
        rmin: Float, rdelta: Float, steps: Int, absoluteError: Bool = false
    ) -> (scale: Float, minimum: Float) {
        var low = x[0]
        var high = x[0]
        var sumW = weights[0]
        var sumX = sumW * x[0]
        for i in 1..<n {
            if x[i] < low { low = x[i] }
            if x[i] > high { high = x[i] }
            let w = weights[i]
            sumW += w
            sumX += w * x[i]
        }
        if low > 0 { low = 0 }
        if high == low {
            for i in 0..<n { L[i] = 0 }
            return (0, -low)
        }
        let levels = Float(nmax)
        let highest = Float(nmax)
        @inline(__always) func level(_ value: Float) -> Float {
            Swift.max(0, Swift.min(highest, Float(nearestInt(value))))
        }
        precondition(n <= 32, "K-quant sub-blocks hold 32 values")
        // x - low and the trial levels, as floats (exactly the reference's values), computed
        // in loops of their own so they vectorise; the sums stay in the reference's order.
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 96) { buffer in
            let shifted = buffer.baseAddress!
            let trial = shifted + 32
            let kept = shifted + 64
            var iscale = levels / (high - low)
            var scale = 1 / iscale
            var bestError: Float = 0
            for i in 0..<n { shifted[i] = x[i] - low }
            for i in 0..<n { kept[i] = level(iscale * shifted[i]) }
            for i in 0..<n {
                let diff = scale * kept[i] + low - x[i]
                bestError += weights[i] * (absoluteError ? abs(diff) : diff * diff)
            }
            for step in 0...steps {
                iscale = (rmin + rdelta * Float(step) + levels) / (high - low)
                for i in 0..<n { trial[i] = level(iscale * shifted[i]) }
                var sumL: Float = 0
                var sumL2: Float = 0
                var sumXL: Float = 0
                for i in 0..<n {
                    let wl = weights[i] * trial[i]
                    sumL += wl
                    sumL2 += wl * trial[i]
                    sumXL += wl * x[i]
                }
                let determinant = sumW * sumL2 - sumL * sumL
                guard determinant > 0 else { continue }
                var thisScale = (sumW * sumXL - sumX * sumL) / determinant
                var thisMin = (sumL2 * sumX - sumL * sumXL) / determinant
                if thisMin > 0 {
                    thisMin = 0
                    thisScale = sumXL / sumL2
                }
                var error: Float = 0
                for i in 0..<n {
                    let diff = thisScale * trial[i] + thisMin - x[i]
                    error += weights[i] * (absoluteError ? abs(diff) : diff * diff)
                }
                if error < bestError {
                    kept.update(from: trial, count: n)
                    bestError = error
                    scale = thisScale
                    // The reference goes on from the new minimum: later trials shift by it.
                    low = thisMin
                    for i in 0..<n { shifted[i] = x[i] - low }
                }
            }
            for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: Int32(kept[i])) }
            return (scale, -low)
        }
    }

    /// Q4_K (nmax 15) and Q5_K (nmax 31) share everything but the level count, the search
    /// parameters and the packing.
    static func q45K(_ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int, fiveBit: Bool) {
        let nmax = fiveBit ? 31 : 15
        let blockBytes = fiveBit ? 176 : 144
        // Scratch for one super-block, allocated once per call (no allocation per block).
        let L = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        let weights = UnsafeMutablePointer<Float>.allocate(capacity: 32)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: 8)
        let mins = UnsafeMutablePointer<Float>.allocate(capacity: 8)
        let packed = UnsafeMutablePointer<UInt8>.allocate(capacity: 12)
        defer {
            L.deallocate()
            weights.deallocate()
            scales.deallocate()
            mins.deallocate()
            packed.deallocate()
        }
        for b in 0..<count {
            let v = x + b * 256
            let block = y + b * blockBytes
            var maxScale: Float = 0
            var maxMin: Float = 0
            for j in 0..<8 {
                let sub = v + 32 * j
                var sumX2: Float = 0
                for l in 0..<32 { sumX2 += sub[l] * sub[l] }
                let average = (sumX2 / 32).squareRoot()
                for l in 0..<32 { weights[l] = average + abs(sub[l]) }
                let fit = fitScaleAndMinimum(
                    sub, count: 32, levels: nmax, weights: weights, into: L + 32 * j,
                    rmin: fiveBit ? -0.5 : -1, rdelta: 0.1, steps: fiveBit ? 15 : 20)
                scales[j] = fit.scale
                mins[j] = fit.minimum
                if fit.scale > maxScale { maxScale = fit.scale }
                if fit.minimum > maxMin { maxMin = fit.minimum }
            }
            let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
            let inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
            packed.initialize(repeating: 0, count: 12)
            for j in 0..<8 {
                let ls = UInt8(min(63, max(0, nearestInt(inverseScale * scales[j]))))
                let lm = UInt8(min(63, max(0, nearestInt(inverseMin * mins[j]))))
                if j < 4 {
                    packed[j] = ls
                    packed[j + 4] = lm
                } else {
                    packed[j + 4] = (ls & 15) | ((lm & 15) << 4)
                    packed[j - 4] |= (ls >> 4) << 6
                    packed[j] |= (lm >> 4) << 6
                }
            }
            finishQ45K(
                v, block, L, packed, d: half(maxScale / 63), dmin: half(maxMin / 63), fiveBit: fiveBit)
        }
    }

    /// `quantize_row_q{4,5}_K_impl` with an importance matrix: weights `importance · sqrt(σ² + x²)`
    /// (σ² twice the super-block's mean square), `make_qkx3_quants` for each sub-block, then
    /// `make_qp_quants` for the 6-bit scales and minima. `importance` is aligned with `x`.
    static func q45KWeighted(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int, fiveBit: Bool,
        importance: UnsafePointer<Float>
    ) {
        let nmax = fiveBit ? 31 : 15
        let blockBytes = fiveBit ? 176 : 144
        let L = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        let floats = UnsafeMutablePointer<Float>.allocate(capacity: 56)
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 28)
        defer {
            L.deallocate()
            floats.deallocate()
            bytes.deallocate()
        }
        let (weights, sumWeights, scales, mins) = (floats, floats + 32, floats + 40, floats + 48)
        let (packed, scaleLevels, minLevels) = (bytes, bytes + 12, bytes + 20)
        for b in 0..<count {
            let v = x + b * 256
            let qw = importance + b * 256
            let block = y + b * blockBytes
            var sumX2: Float = 0
            for l in 0..<256 { sumX2 += v[l] * v[l] }
            let sigma2 = 2 * sumX2 / 256
            for j in 0..<8 {
                let sub = v + 32 * j
                for l in 0..<32 { weights[l] = qw[32 * j + l] * (sigma2 + sub[l] * sub[l]).squareRoot() }
                var sum: Float = 0
                for l in 0..<32 { sum += weights[l] }
                sumWeights[j] = sum
                let fit = fitScaleAndMinimum(
                    sub, count: 32, levels: nmax, weights: weights, into: L + 32 * j, rmin: -0.9, rdelta: 0.05,
                    steps: 36)
                scales[j] = fit.scale
                mins[j] = fit.minimum
            }
            let d = fitUnsignedScale(scales, count: 8, levels: 63, weights: sumWeights, into: scaleLevels)
            let dmin = fitUnsignedScale(mins, count: 8, levels: 63, weights: sumWeights, into: minLevels)
            packed.initialize(repeating: 0, count: 12)
            for j in 0..<8 {
                let (ls, lm) = (Swift.min(63, scaleLevels[j]), Swift.min(63, minLevels[j]))
                if j < 4 {
                    packed[j] = ls
                    packed[j + 4] = lm
                } else {
                    packed[j + 4] = (ls & 15) | ((lm & 15) << 4)
                    packed[j - 4] |= (ls >> 4) << 6
                    packed[j] |= (lm >> 4) << 6
                }
            }
            finishQ45K(v, block, L, packed, d: half(d), dmin: half(dmin), fiveBit: fiveBit)
        }
    }

    /// The end of a Q4_K / Q5_K super-block: the f16 scales and packed sub-block scales
    /// stored, the levels picked again against them, the levels packed.
    @inline(__always) static func finishQ45K(
        _ v: UnsafePointer<Float>, _ block: UnsafeMutableRawPointer, _ L: UnsafeMutablePointer<UInt8>,
        _ packed: UnsafeMutablePointer<UInt8>, d: (bits: UInt16, value: Float), dmin: (bits: UInt16, value: Float),
        fiveBit: Bool
    ) {
        let nmax = fiveBit ? 31 : 15
        block.storeBytes(of: d.bits, toByteOffset: 0, as: UInt16.self)
        block.storeBytes(of: dmin.bits, toByteOffset: 2, as: UInt16.self)
        (block + 4).copyMemory(from: packed, byteCount: 12)
        for j in 0..<8 {
            let (sc, m) = BlockDecoders.scaleMin(UnsafePointer(packed), j)
            let dj = d.value * Float(sc)
            if dj == 0 { continue }
            let dm = dmin.value * Float(m)
            for i in 0..<32 { L[32 * j + i] = UInt8(max(0, min(nmax, nearestInt((v[32 * j + i] + dm) / dj)))) }
        }
        if fiveBit {
            let qh = block + 16
            let ql = block + 48
            for k in 0..<32 { qh.storeBytes(of: 0, toByteOffset: k, as: UInt8.self) }
            var m1: UInt8 = 1
            var m2: UInt8 = 2
            for (chunk, n) in stride(from: 0, to: 256, by: 64).enumerated() {
                for j in 0..<32 {
                    var l1 = L[n + j]
                    var l2 = L[n + j + 32]
                    var high = qh.load(fromByteOffset: j, as: UInt8.self)
                    if l1 > 15 {
                        l1 -= 16
                        high |= m1
                    }
                    if l2 > 15 {
                        l2 -= 16
                        high |= m2
                    }
                    qh.storeBytes(of: high, toByteOffset: j, as: UInt8.self)
                    ql.storeBytes(of: l1 | (l2 << 4), toByteOffset: chunk * 32 + j, as: UInt8.self)
                }
                m1 <<= 2
                m2 <<= 2
            }
        } else {
            for (chunk, n) in stride(from: 0, to: 256, by: 64).enumerated() {
                for l in 0..<32 {
                    block.storeBytes(
                        of: L[n + l] | (L[n + l + 32] << 4), toByteOffset: 16 + chunk * 32 + l, as: UInt8.self)
                }
            }
        }
    }

    /// The largest |x| of `n` values and the (signed) value that has it, the first on ties, as
    /// the reference's scale searches find them.
    @inline(__always) static func largestMagnitude(_ x: UnsafePointer<Float>, count n: Int) -> (
        amax: Float, value: Float
    ) {
        var maxValue: Float = 0
        var amax: Float = 0
        for i in 0..<n {
            let ax = abs(x[i])
            if ax > amax {
                amax = ax
                maxValue = x[i]
            }
        }
        return (amax, maxValue)
    }

    /// `make_qx_quants` with rmse_type 1: signed levels -nmax..nmax-1 stored with +nmax, the
    /// scale refined over 18 trial values, each trial weighted by `weights` (an importance
    /// matrix's) or, without them, by x². Returns the scale.
    static func fitSignedScale(
        _ x: UnsafePointer<Float>, count n: Int, levels nmax: Int, into L: UnsafeMutablePointer<Int8>,
        weights given: UnsafePointer<Float>? = nil
    ) -> Float {
        let (amax, maxValue) = largestMagnitude(x, count: n)
        if amax < 1e-15 {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        let levels = Float(nmax)
        // Levels as floats: the clamp and the products stay in float registers, exactly.
        let (lowest, highest) = (Float(-nmax), Float(nmax - 1))
        @inline(__always) func level(_ value: Float) -> Float {
            Swift.max(lowest, Swift.min(highest, Float(nearestInt(value))))
        }
        precondition(n <= 32, "make_qx_quants groups hold at most 32 values")
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: 96) { buffer in
            // The weights and weights·x are the same in every trial: computed once, to the same bits.
            let w = buffer.baseAddress!
            let wx = w + 32
            let fl = w + 64
            if let given {
                for i in 0..<n { w[i] = given[i] }
            } else {
                for i in 0..<n { w[i] = x[i] * x[i] }
            }
            for i in 0..<n { wx[i] = w[i] * x[i] }
            /// Σ w·x·l and Σ w·l·l for the levels at `iscale`, in the reference's order.
            func sums(_ iscale: Float) -> (Float, Float) {
                for i in 0..<n { fl[i] = level(iscale * x[i]) }
                var sumLX: Float = 0
                var sumL2: Float = 0
                for i in 0..<n {
                    sumLX += wx[i] * fl[i]
                    sumL2 += w[i] * fl[i] * fl[i]
                }
                return (sumLX, sumL2)
            }
            var (sumLX, sumL2) = sums(-levels / maxValue)
            for i in 0..<n { L[i] = Int8(truncatingIfNeeded: Int32(fl[i]) &+ Int32(nmax)) }
            var scale: Float = sumL2 != 0 ? sumLX / sumL2 : 0
            var best = scale * sumLX
            for step in -9...9 where step != 0 {
                (sumLX, sumL2) = sums(-(levels + 0.1 * Float(step)) / maxValue)
                if sumL2 > 0 && sumLX * sumLX > best * sumL2 {
                    for i in 0..<n { L[i] = Int8(truncatingIfNeeded: Int32(fl[i]) &+ Int32(nmax)) }
                    scale = sumLX / sumL2
                    best = scale * sumLX
                }
            }
            return scale
        }
    }

    /// `make_qp_quants`: non-negative values (sub-block scales or minima) as levels 0...nmax
    /// under one scale, chosen among 9 trials by weighted squared error and then refined by
    /// moving single levels while the weighted fit improves (5 passes at most). Returns the scale.
    static func fitUnsignedScale(
        _ x: UnsafePointer<Float>, count n: Int, levels nmax: Int, weights w: UnsafePointer<Float>,
        into L: UnsafeMutablePointer<UInt8>
    ) -> Float {
        var maximum: Float = 0
        for i in 0..<n { maximum = Swift.max(maximum, x[i]) }
        if maximum < 1e-15 {
            for i in 0..<n { L[i] = 0 }
            return 0
        }
        let levels = Float(nmax)
        var iscale = levels / maximum
        for i in 0..<n { L[i] = UInt8(truncatingIfNeeded: nearestInt(iscale * x[i])) }
        let scale = 1 / iscale
        var bestError: Float = 0
        for i in 0..<n {
            let diff = x[i] - scale * Float(L[i])
            bestError += w[i] * diff * diff
        }
        for step in -4...4 where step != 0 {
            let trialInverse = (0.1 * Float(step) + levels) / maximum
            let trialScale = 1 / trialInverse
            var error: Float = 0
            for i in 0..<n {
                let l = Swift.min(nmax, nearestInt(trialInverse * x[i]))
                let diff = x[i] - trialScale * Float(l)
                error += w[i] * diff * diff
            }
            if error < bestError {
                bestError = error
                iscale = trialInverse
            }
        }
        var sumLX: Float = 0
        var sumL2: Float = 0
        for i in 0..<n {
            let l = Swift.min(nmax, nearestInt(iscale * x[i]))
            L[i] = UInt8(truncatingIfNeeded: l)
            sumLX += w[i] * x[i] * Float(l)
            sumL2 += w[i] * Float(l) * Float(l)
        }
        for _ in 0..<5 {
            var changed = 0
            for i in 0..<n {
                let current = Float(L[i])
                var slx = sumLX - w[i] * x[i] * current
                var sl2 = sumL2 - w[i] * current * current
                guard slx > 0 && sl2 > 0 else { continue }
                let newL = Swift.min(nmax, nearestInt(x[i] * sl2 / slx))
                guard newL != Int(L[i]) else { continue }
                slx += w[i] * x[i] * Float(newL)
                sl2 += w[i] * Float(newL) * Float(newL)
                if slx * slx * sumL2 > sumLX * sumLX * sl2 {
                    L[i] = UInt8(truncatingIfNeeded: newL)
                    sumLX = slx
                    sumL2 = sl2
                    changed += 1
                }
            }
            if changed == 0 { break }
        }
        return sumL2 > 0 ? sumLX / sumL2 : 0
    }

    /// Q6_K; with `importance` (aligned with `x`), `quantize_row_q6_K_impl`: the importance
    /// values weight each group's scale search directly.
    static func q6K(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int,
        importance: UnsafePointer<Float>? = nil
    ) {
        // Scratch for one super-block, allocated once per call (no allocation per block).
        let L = UnsafeMutablePointer<Int8>.allocate(capacity: 256)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: 16)
        let groupScales = UnsafeMutablePointer<Int8>.allocate(capacity: 16)
        defer {
            L.deallocate()
            scales.deallocate()
            groupScales.deallocate()
        }
        for b in 0..<count {
            let v = x + b * 256
            let block = y + b * 210
            var maxScale: Float = 0
            var maxAbsScale: Float = 0
            for group in 0..<16 {
                let scale = fitSignedScale(
                    v + 16 * group, count: 16, levels: 32, into: L + 16 * group,
                    weights: importance.map { $0 + b * 256 + 16 * group })
                scales[group] = scale
                if abs(scale) > maxAbsScale {
                    maxAbsScale = abs(scale)
                    maxScale = scale
                }
            }
            if maxAbsScale < 1e-15 {
                (block).initializeMemory(as: UInt8.self, repeating: 0, count: 210)
                continue
            }
            let iscale = -128 / maxScale
            let d = half(1 / iscale)
            block.storeBytes(of: d.bits, toByteOffset: 208, as: UInt16.self)
            for group in 0..<16 {
                groupScales[group] = Int8(max(-128, min(127, nearestInt(iscale * scales[group]))))
                block.storeBytes(of: groupScales[group], toByteOffset: 192 + group, as: Int8.self)
            }
            for group in 0..<16 {
                let dg = d.value * Float(groupScales[group])
                if dg == 0 { continue }
                for i in 0..<16 {
                    L[16 * group + i] = Int8(max(-32, min(31, nearestInt(v[16 * group + i] / dg))) + 32)
                }
            }
            for (chunk, j) in stride(from: 0, to: 256, by: 128).enumerated() {
                for l in 0..<32 {
                    let q1 = UInt8(L[j + l])
                    let q2 = UInt8(L[j + l + 32])
                    let q3 = UInt8(L[j + l + 64])
                    let q4 = UInt8(L[j + l + 96])
                    block.storeBytes(of: (q1 & 15) | ((q3 & 15) << 4), toByteOffset: chunk * 64 + l, as: UInt8.self)
                    block.storeBytes(
                        of: (q2 & 15) | ((q4 & 15) << 4), toByteOffset: chunk * 64 + 32 + l, as: UInt8.self)
                    let high = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6)
                    block.storeBytes(of: high, toByteOffset: 128 + chunk * 32 + l, as: UInt8.self)
                }
            }
        }
    }
}
