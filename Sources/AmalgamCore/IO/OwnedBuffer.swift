/// Heap memory, 64-byte aligned, freed when the last reference goes.
public final class OwnedBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let byteCount: Int

    public init(byteCount: Int) {
        self.byteCount = byteCount
        self.pointer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
    }

    /// A region over the whole buffer, sharing ownership.
    public var region: ByteRegion {
        ByteRegion(owner: self, baseAddress: UnsafeRawPointer(pointer), count: byteCount)
    }

    deinit { pointer.deallocate() }
}
