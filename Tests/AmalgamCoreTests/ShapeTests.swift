import Testing

@testable import AmalgamCore

#if canImport(Glibc)
    import Glibc
#endif

struct ShapeTests {
    @Test func counts() throws {
        #expect(try Shape(checking: []).elementCount == 1)
        #expect(try Shape(checking: [0, 3]).elementCount == 0)
        #expect(try Shape(checking: [2, 3, 4]).byteCount(elementBytes: 2) == 48)
    }

    @Test(
        "overflowing shapes are errors",
        arguments: [
            [UInt64(1) << 32, UInt64(1) << 32], [UInt64.max], [UInt64(1) << 62, 4],
            [0, UInt64(1) << 40, UInt64(1) << 40],
        ])
    func overflow(dims: [UInt64]) {
        #expect(throws: AmalgamError.self) { try Shape(checking: dims) }
    }

    @Test func byteOverflow() throws {
        let shape = try Shape(checking: [UInt64(1) << 31, UInt64(1) << 31])
        #expect(throws: AmalgamError.self) { try shape.byteCount(elementBytes: 4) }
    }
}
