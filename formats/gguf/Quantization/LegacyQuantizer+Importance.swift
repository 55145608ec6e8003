// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (L is llama.cpp's name for the quantised levels; kept so the code reads against the reference.)

import AmalgamCore

/// llama.cpp's encoders for the 32-element block types when an importance matrix is given
/// (`quantize_row_q{4,5}_{0,1}_impl`): weights `importance · sqrt(σ² + x²)` with σ² the mean
/// square of the whole row, then the weighted scale searches of the K-quants (`make_qx_quants`
/// for Q4_0 / Q5_0, `make_qkx3_quants` for Q4_1 / Q5_1) instead of the plain max-based scale.
extension LegacyQuantizer {
    /// One row of `rowLength` values (whole blocks) of `type` (.q4_0, .q4_1, .q5_0 or .q5_1),
    /// `importance` holding one value per column.
    static func weightedRow(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutableRawPointer, rowLength: Int, as type: GGMLType,
        importance: UnsafePointer<Float>
    ) {
        var sumX2: Float = 0
        for j in 0..<rowLength { sumX2 += x[j] * x[j] }
        let sigma2 = sumX2 / Float(rowLength)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weightBuffer in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { levelBuffer in
                let weight = weightBuffer.baseAddress!
                let L = levelBuffer.baseAddress!
                let bytes = type.blockLayout.bytes
                for block in 0..<(rowLength / 32) {
                    let xb = x + 32 * block
                    let qw = importance + 32 * block
                    let out = y + block * bytes
                    for j in 0..<32 { weight[j] = qw[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
                    switch type {
                    case .q4_0, .q5_0:
                        let fiveBit = type == .q5_0
                        let d = L.withMemoryRebound(to: Int8.self, capacity: 32) {
                            KQuantizer.fitSignedScale(
                                xb, count: 32, levels: fiveBit ? 16 : 8, into: $0, weights: weight)
                        }
                        storeHalf(d, out, 0)
                        pack(L, into: out + 2, fiveBit: fiveBit)
                    default:
                        let fiveBit = type == .q5_1
                        let fit = KQuantizer.fitScaleAndMinimum(
                            xb, count: 32, levels: fiveBit ? 31 : 15, weights: weight, into: L, rmin: -0.9,
                            rdelta: 0.05, steps: 36)
                        storeHalf(fit.scale, out, 0)
                        storeHalf(-fit.minimum, out, 2)
                        pack(L, into: out + 4, fiveBit: fiveBit)
                    }
                }
            }
        }
    }

    /// 32 levels after the block's scales: for 4 bits, level j in the low nibble of byte j and
    /// level j + 16 in its high nibble; for 5 bits, the fifth bits first (a little-endian u32,
    /// bit j for level j), then the low nibbles as for 4 bits.
    static func pack(_ L: UnsafePointer<UInt8>, into out: UnsafeMutableRawPointer, fiveBit: Bool) {
        let quants = fiveBit ? out + 4 : out
        var qh: UInt32 = 0
        for j in 0..<16 {
            let (low, high) = (L[j], L[j + 16])
            quants.storeBytes(of: (low & 0xF) | ((high & 0xF) << 4), toByteOffset: j, as: UInt8.self)
            qh |= UInt32((low & 0x10) >> 4) << UInt32(j) | UInt32((high & 0x10) >> 4) << UInt32(j + 16)
        }
        if fiveBit { out.storeBytes(of: qh.littleEndian, toByteOffset: 0, as: UInt32.self) }
    }
}
