// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (one function per ggml type, named as ggml names it.)

import AmalgamCore

/// Dequantisation of ggml's grid-based IQ types (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S,
/// IQ1_S, IQ1_M): each group of 4 or 8 values is a row of a fixed lookup grid, scaled, with
/// signs or a shift. Same f32 operations in the same order as gguf-py.
enum IQDecoders {
    /// A grid expanded to floats, row-major.
    struct Grid: Sendable {
        let width: Int
        let values: [Float]

        init(_ data: (rows: Int, width: Int, values: [Float], digits: String)) {
            var expanded: [Float] = []
            expanded.reserveCapacity(data.rows * data.width)
            for digit in data.digits.utf8 where digit != UInt8(ascii: "\n") && digit != UInt8(ascii: " ") {
                let index =
                    digit <= UInt8(ascii: "9") ? Int(digit - UInt8(ascii: "0")) : Int(digit - UInt8(ascii: "a")) + 10
                expanded.append(data.values[index])
            }
            precondition(expanded.count == data.rows * data.width, "grid table is damaged")
            width = data.width
            values = expanded
        }
    }

    static let iq2xxs = Grid(IQGridData.iq2xxs)
    static let iq2xs = Grid(IQGridData.iq2xs)
    static let iq2s = Grid(IQGridData.iq2s)
    static let iq3xxs = Grid(IQGridData.iq3xxs)
    static let iq3s = Grid(IQGridData.iq3s)
    static let iq1s = Grid(IQGridData.iq1s)

    /// ggml's `ksigns_iq2xs`: seven sign bits plus an eighth that makes the parity even.
    @inline(__always) static func signs(_ index: UInt32) -> UInt8 {
        let i = UInt8(truncatingIfNeeded: index & 127)
        return i | UInt8(i.nonzeroBitCount & 1) << 7
    }

    @inline(__always) static func sign(_ bits: UInt8, _ j: Int) -> Float { (bits >> UInt8(j)) & 1 == 0 ? 1 : -1 }

    @inline(__always) static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
    }
    @inline(__always) static func u32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        p.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
    }

    static func iq2_XXS(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        iq2xxs.values.withUnsafeBufferPointer { grid in
            for b in 0..<count {
                let block = x + b * 66
                let out = y + b * 256
                let d = BlockDecoders.half(block, 0)
                for g in 0..<8 {
                    let indices = u32(block, 2 + 8 * g)
                    let aux = u32(block, 2 + 8 * g + 4)
                    let db = d * (0.5 + Float(aux >> 28)) * 0.25
                    for l in 0..<4 {
                        let row = Int((indices >> UInt32(8 * l)) & 255) * 8
                        let bits = signs(aux >> UInt32(7 * l))
                        for j in 0..<8 { out[g * 32 + l * 8 + j] = db * grid[row + j] * sign(bits, j) }
                    }
                }
            }
        }
    }

    /// The 16 four-bit scales of IQ2_XS and IQ2_S.
    @inline(__always) static func nibble(_ p: UnsafeRawPointer, _ offset: Int, _ index: Int) -> Float {
        Float((p.load(fromByteOffset: offset + index / 2, as: UInt8.self) >> UInt8(4 * (index % 2))) & 15)
    }

    static func iq2_XS(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        iq2xs.values.withUnsafeBufferPointer { grid in
            for b in 0..<count {
                let block = x + b * 74
                let out = y + b * 256
                let d = BlockDecoders.half(block, 0)
                for q in 0..<32 {
                    let db = d * (0.5 + nibble(block, 66, q / 2)) * 0.25
                    let code = u16(block, 2 + 2 * q)
                    let row = Int(code & 511) * 8
                    let bits = signs(UInt32(code >> 9))
                    for j in 0..<8 { out[q * 8 + j] = db * grid[row + j] * sign(bits, j) }
                }
            }
        }
    }

    static func iq2_S(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        iq2s.values.withUnsafeBufferPointer { grid in
            for b in 0..<count {
                let block = x + b * 82
                let out = y + b * 256
                let d = BlockDecoders.half(block, 0)
                let qs = BlockDecoders.bytes(block, 2)
                let signBytes = BlockDecoders.bytes(block, 34)
                let qh = BlockDecoders.bytes(block, 66)
                for q in 0..<32 {
                    let db = d * (0.5 + nibble(block, 74, q / 2)) * 0.25
                    let high = Int((qh[q / 4] >> UInt8(2 * (q % 4))) & 3)
                    let row = (Int(qs[q]) | high << 8) * 8
                    for j in 0..<8 { out[q * 8 + j] = db * grid[row + j] * sign(signBytes[q], j) }
                }
            }
        }
    }

    static func iq3_XXS(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        iq3xxs.values.withUnsafeBufferPointer { grid in
            for b in 0..<count {
                let block = x + b * 98
                let out = y + b * 256
                let d = BlockDecoders.half(block, 0)
                let qs = BlockDecoders.bytes(block, 2)
                for g in 0..<8 {
                    let aux = u32(block, 66 + 4 * g)
                    let db = d * (0.5 + Float(aux >> 28)) * 0.5
                    for l in 0..<4 {
                        let bits = signs(aux >> UInt32(7 * l))
                        for j in 0..<8 {
                            let e = g * 32 + l * 8 + j
                            out[e] = db * grid[Int(qs[e / 4]) * 4 + e % 4] * sign(bits, j)
                        }
                    }
                }
            }
        }
    }

    static func iq3_S(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        iq3s.values.withUnsafeBufferPointer { grid in
            for b in 0..<count {
                let block = x + b * 110
                let out = y + b * 256
                let d = BlockDecoders.half(block, 0)
                let qs = BlockDecoders.bytes(block, 2)
                let qh = BlockDecoders.bytes(block, 66)
                let signBytes = BlockDecoders.bytes(block, 74)
                for g in 0..<8 {
                    let db = d * (1 + 2 * nibble(block, 106, g))
                    for e in (g * 32)..<(g * 32 + 32) {
                        let q = e / 4
                        let row = Int(qs[q]) | Int((qh[q / 8] >> UInt8(q % 8)) & 1) << 8
                        out[e] = db * grid[row * 4 + e % 4] * sign(signBytes[e / 8], e % 8)
                    }
                }
            }
        }
    }

    static func iq1_S(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        iq1s.values.withUnsafeBufferPointer { grid in
            for b in 0..<count {
                let block = x + b * 50
                let out = y + b * 256
                let d = BlockDecoders.half(block, 0)
                let qs = BlockDecoders.bytes(block, 2)
                for g in 0..<8 {
                    let qh = u16(block, 34 + 2 * g)
                    let dl = d * Float(2 * ((qh >> 12) & 7) + 1)
                    let delta: Float = qh & 0x8000 == 0 ? 0.125 : -0.125
                    for l in 0..<4 {
                        let row = (Int(qs[g * 4 + l]) | Int((qh >> UInt16(3 * l)) & 7) << 8) * 8
                        for j in 0..<8 { out[g * 32 + l * 8 + j] = dl * (grid[row + j] + delta) }
                    }
                }
            }
        }
    }

    static func iq1_M(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
        iq1s.values.withUnsafeBufferPointer { grid in
            for b in 0..<count {
                let block = x + b * 56
                let out = y + b * 256
                let qs = BlockDecoders.bytes(block, 0)
                let qh = BlockDecoders.bytes(block, 32)
                let scales = (0..<4).map { u16(block, 48 + 2 * $0) }
                // The f16 super-block scale is spread over the top nibbles of the four scale words.
                let bits =
                    (scales[0] & 0xF000) >> 12 | (scales[1] & 0xF000) >> 8 | (scales[2] & 0xF000) >> 4
                    | (scales[3] & 0xF000)
                let d = FloatBits.float(fromF16: bits)
                for i in 0..<32 {
                    let scale = (scales[(i / 2) / 4] >> UInt16(3 * ((i / 2) % 4))) & 7
                    let dl = d * Float(2 * scale + 1)
                    let high = qh[i / 2] >> UInt8(4 * (i % 2))
                    let row = (Int(qs[i]) | Int(high & 7) << 8) * 8
                    let delta: Float = high & 8 == 0 ? 0.125 : -0.125
                    for j in 0..<8 { out[i * 8 + j] = dl * (grid[row + j] + delta) }
                }
            }
        }
    }
}
