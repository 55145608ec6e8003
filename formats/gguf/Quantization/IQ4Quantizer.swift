// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (L is llama.cpp's name for the quantised levels; kept so the code reads against the reference.)

import AmalgamCore

/// Encoders for IQ4_NL and IQ4_XS following llama.cpp's `quantize_iq4_nl` / `quantize_iq4_xs`
/// without an importance matrix (weights x², 7 trial scales each side): each 32-element block
/// maps onto the 16 non-linear levels of `BlockDecoders.iq4Grid` with the weighted
/// least-squares scale of 15 trials; IQ4_NL stores that scale as f16, IQ4_XS stores 6-bit
/// block scales under an f16 super-block scale and re-picks the levels against them.
enum IQ4Quantizer {
    static let levels = BlockDecoders.iq4Grid.map(Float.init)

    /// `best_index_int8`: the nearest level (the upper one on ties), by bisection.
    @inline(__always) static func nearestLevel(_ x: Float, _ values: UnsafePointer<Float>) -> Int {
        if x <= values[0] { return 0 }
        if x >= values[15] { return 15 }
        var (low, high) = (0, 15)
        while high - low > 1 {
            let middle = (low + high) / 2
            if x < values[middle] { high = middle } else { low = middle }
        }
        return x - values[high - 1] < values[high] - x ? high - 1 : high
    }

    /// IQ4_NL: `count` blocks of 32 values into 18-byte blocks.
    static func iq4NL(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int, importance: UnsafePointer<Float>? = nil
    ) {
        superBlocks(x, y, count, size: 32, bytes: 18, importance: importance)
    }

    /// IQ4_XS: `count` super-blocks of 256 values into 136-byte blocks.
    static func iq4XS(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int, importance: UnsafePointer<Float>? = nil
    ) {
        superBlocks(x, y, count, size: 256, bytes: 136, importance: importance)
    }

    /// `quantize_row_iq4_nl_impl` with 32-element blocks and `ntry` 7. Weights are x², or with
    /// `importance` (aligned with `x`) `importance · sqrt(σ² + x²)`, σ² twice the super-block's
    /// mean square.
    static func superBlocks(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, _ count: Int, size: Int, bytes: Int,
        importance: UnsafePointer<Float>?
    ) {
        levels.withUnsafeBufferPointer { table in
            let values = table.baseAddress!
            let blocks = size / 32
            var L = [UInt8](repeating: 0, count: size)
            var scales = [Float](repeating: 0, count: blocks)
            var weight = [Float](repeating: 0, count: 32)
            for index in 0..<count {
                let xs = x + index * size
                let out = y + index * bytes
                var maxScale: Float = 0
                var amaxScale: Float = 0
                var sigma2: Float = 0
                if importance != nil {
                    for j in 0..<size { sigma2 += xs[j] * xs[j] }
                    sigma2 *= 2 / Float(size)
                }
                for ib in 0..<blocks {
                    let xb = xs + ib * 32
                    if let importance {
                        let qw = importance + index * size + ib * 32
                        for j in 0..<32 { weight[j] = qw[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
                    } else {
                        for j in 0..<32 { weight[j] = xb[j] * xb[j] }
                    }
                    let (amax, maxValue) = KQuantizer.largestMagnitude(xb, count: 32)
                    if amax < 1e-15 {
                        scales[ib] = 0
                        continue
                    }
                    func sums(_ id: Float, keep: Bool) -> (Float, Float) {
                        var sumqx: Float = 0
                        var sumq2: Float = 0
                        for j in 0..<32 {
                            let l = nearestLevel(id * xb[j], values)
                            if keep { L[ib * 32 + j] = UInt8(l) }
                            let q = values[l]
                            let w = weight[j]
                            sumqx += w * q * xb[j]
                            sumq2 += w * q * q
                        }
                        return (sumqx, sumq2)
                    }
                    var d = -maxValue / values[0]
                    var (sumqx, sumq2) = sums(1 / d, keep: true)
                    d = sumq2 > 0 ? sumqx / sumq2 : 0
                    var best = d * sumqx
                    for trial in -7...7 {
                        (sumqx, sumq2) = sums(Float(trial + Int(BlockDecoders.iq4Grid[0])) / maxValue, keep: false)
                        if sumq2 > 0 && sumqx * sumqx > best * sumq2 {
                            d = sumqx / sumq2
                            best = d * sumqx
                        }
                    }
                    scales[ib] = d
                    if abs(d) > amaxScale {
                        amaxScale = abs(d)
                        maxScale = d
                    }
                }
                if blocks > 1 {
                    let d = -maxScale / 32
                    out.storeBytes(of: FloatBits.f16(from: d).littleEndian, toByteOffset: 0, as: UInt16.self)
                    let id: Float = d != 0 ? 1 / d : 0
                    var high: UInt16 = 0
                    for ib in 0..<blocks {
                        var l = KQuantizer.nearestInt(id * scales[ib])
                        l = Swift.max(-32, Swift.min(31, l))
                        let dl = d * Float(l)
                        let idl: Float = dl != 0 ? 1 / dl : 0
                        for j in 0..<32 { L[ib * 32 + j] = UInt8(nearestLevel(idl * xs[ib * 32 + j], values)) }
                        l += 32
                        let lowBits = UInt8(l & 0xF)
                        let highBits = UInt16(l >> 4)
                        let offset = 4 + ib / 2
                        if ib % 2 == 0 {
                            out.storeBytes(of: lowBits, toByteOffset: offset, as: UInt8.self)
                        } else {
                            let previous = out.load(fromByteOffset: offset, as: UInt8.self)
                            out.storeBytes(of: previous | (lowBits << 4), toByteOffset: offset, as: UInt8.self)
                        }
                        high |= highBits << UInt16(2 * (ib % 8))
                    }
                    out.storeBytes(of: high.littleEndian, toByteOffset: 2, as: UInt16.self)
                } else {
                    out.storeBytes(of: FloatBits.f16(from: scales[0]).littleEndian, toByteOffset: 0, as: UInt16.self)
                    let id: Float = scales[0] != 0 ? 1 / scales[0] : 0
                    for j in 0..<size { L[j] = UInt8(nearestLevel(id * xs[j], values)) }
                }
                let quants = out + (blocks > 1 ? 8 : 2)
                for i in 0..<(size / 32) {
                    for j in 0..<16 {
                        quants.storeBytes(
                            of: L[32 * i + j] | (L[32 * i + 16 + j] << 4), toByteOffset: 16 * i + j, as: UInt8.self)
                    }
                }
            }
        }
    }
}
