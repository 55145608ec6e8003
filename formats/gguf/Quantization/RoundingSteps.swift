// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (one case per ggml type, named as ggml names it.)

import AmalgamCore

/// The rounding steps ggml blocks store, for the quantisation-noise estimate of merges
/// (`QuantizedCodec.roundingErrorEnergy`). Each block's values lie on a lattice whose step is
/// its scale (times a sub-block scale for the K-quants); rounding to it errs by `Δ²/12` in
/// mean square. Layouts as in `BlockDecoders`. The IQ4 grids are not uniform: their mean
/// spacing (240/15 = 16 units of the scale) stands for the step.
enum RoundingSteps {
    /// `Σ Δ²` over every element of `count` blocks of `type`, nil for types without a step.
    static func sumOfSquaredSteps(_ type: GGMLType, _ x: UnsafeRawPointer, _ count: Int) -> Double? {
        func half(_ p: UnsafeRawPointer, _ offset: Int) -> Double { Double(BlockDecoders.half(p, offset)) }
        func bytes(_ p: UnsafeRawPointer, _ offset: Int) -> UnsafePointer<UInt8> { BlockDecoders.bytes(p, offset) }
        var total = 0.0
        switch type {
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1:
            let size = type.blockLayout.bytes
            for b in 0..<count {
                let d = half(x + b * size, 0)
                total += 32 * d * d
            }
        case .iq4_NL:
            for b in 0..<count {
                let d = 16 * half(x + b * 18, 0)
                total += 32 * d * d
            }
        case .q2_K:
            for b in 0..<count {
                let block = x + b * 84
                let d = half(block, 80)
                let scales = bytes(block, 0)
                for group in 0..<16 {
                    let step = d * Double(scales[group] & 15)
                    total += 16 * step * step
                }
            }
        case .q3_K:
            for b in 0..<count {
                let block = x + b * 110
                let packed = bytes(block, 96)
                let d = half(block, 108)
                for group in 0..<16 {
                    let step = d * Double(BlockDecoders.q3KScale(packed, group))
                    total += 16 * step * step
                }
            }
        case .q4_K, .q5_K:
            let size = type.blockLayout.bytes
            for b in 0..<count {
                let block = x + b * size
                let d = half(block, 0)
                let scales = bytes(block, 4)
                for j in 0..<8 {
                    let step = d * Double(BlockDecoders.scaleMin(scales, j).0)
                    total += 32 * step * step
                }
            }
        case .q6_K:
            for b in 0..<count {
                let block = x + b * 210
                let scales = bytes(block, 192)
                let d = half(block, 208)
                for group in 0..<16 {
                    let step = d * Double(Int8(bitPattern: scales[group]))
                    total += 16 * step * step
                }
            }
        case .q8_K:
            for b in 0..<count {
                let d = Double(x.loadUnaligned(fromByteOffset: b * 292, as: Float.self))
                total += 256 * d * d
            }
        case .iq4_XS:
            for b in 0..<count {
                let block = x + b * 136
                let d = half(block, 0)
                for j in 0..<8 {
                    let step = 16 * d * Double(BlockDecoders.iq4XSScale(block, j))
                    total += 32 * step * step
                }
            }
        default:
            return nil
        }
        return total
    }
}
