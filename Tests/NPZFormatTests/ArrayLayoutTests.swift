import AmalgamCore
import Foundation
import TestSupport
import Testing

@testable import NPZFormat

struct ArrayLayoutTests {
    @Test("column-major to row-major matches an index-by-index reference for rank 3")
    func fortran() throws {
        let shape = [2, 3, 4]
        // Column-major: element (i, j, k) is stored at i + 2 j + 6 k.
        var stored = [Float](repeating: 0, count: 24)
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { stored[i + 2 * j + 6 * k] = Float(100 * i + 10 * j + k) } } }
        let region = stored.withUnsafeBytes { ByteRegion(copying: $0) }
        let reordered = ElementLayout.columnMajorToRowMajor(region, shape: shape, width: 4)
        let values = reordered.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        var expected: [Float] = []
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { expected.append(Float(100 * i + 10 * j + k)) } } }
        #expect(values == expected)
    }

    @Test("byte swapping and 2-D transposes")
    func swapAndTranspose() {
        let region = ByteRegion(copying: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt8])
        #expect(ElementLayout.byteSwapped(region, width: 4).bytes == [4, 3, 2, 1, 8, 7, 6, 5])
        let matrix = ByteRegion(copying: [1, 2, 3, 4, 5, 6] as [UInt8])  // 2 x 3
        #expect(ElementLayout.transposed(matrix, rows: 2, columns: 3, width: 1).bytes == [1, 4, 2, 5, 3, 6])
    }

    @Test(
        "keys are names, not paths; Flax trees map to canonical names",
        arguments: [
            ("params/Dense_0/kernel", 2, "Dense_0.weight", true),
            ("params/LayerNorm_0/scale", 1, "LayerNorm_0.weight", false),
            ("params/Embed_0/embedding", 2, "Embed_0.weight", false),
            ("encoder/conv/kernel", 4, "encoder.conv.kernel", false),
            ("layers.0.weight", 2, "layers.0.weight", false),
        ])
    func keys(key: String, rank: Int, name: String, transpose: Bool) throws {
        try NPZKeys.validate(key)
        let mapped = NPZKeys.canonical(key, rank: rank)
        #expect(mapped.name == name && mapped.transpose == transpose)
    }

    @Test(
        "path-like keys are refused", arguments: ["../x", "a/../b", "/etc/passwd", "a//b", "a\\b", "a\0b", "./a", ""])
    func badKeys(key: String) {
        #expect(throws: AmalgamError.self) { try NPZKeys.validate(key) }
    }
}
