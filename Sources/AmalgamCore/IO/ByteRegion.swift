/// Read-only bytes that stay valid as long as the region is alive: a slice of a memory
/// mapped file (zero-copy) or a buffer Amalgam owns. Slicing shares the owner.
public struct ByteRegion: @unchecked Sendable {
    /// Keeps the memory alive: a `MappedFile` or an `OwnedBuffer`.
    public let owner: AnyObject
    public let baseAddress: UnsafeRawPointer
    public let count: Int

    public init(owner: AnyObject, baseAddress: UnsafeRawPointer, count: Int) {
        self.owner = owner
        self.baseAddress = baseAddress
        self.count = count
    }

    /// A fresh owned copy of `bytes`.
    public init(copying bytes: some Collection<UInt8>) {
        let buffer = OwnedBuffer(byteCount: bytes.count)
        UnsafeMutableRawBufferPointer(start: buffer.pointer, count: bytes.count).copyBytes(from: bytes)
        self.init(owner: buffer, baseAddress: UnsafeRawPointer(buffer.pointer), count: bytes.count)
    }

    /// `count` bytes from `offset`. - Precondition: inside the region.
    public func slice(offset: Int, count: Int) -> ByteRegion {
        precondition(offset >= 0 && count >= 0 && offset <= self.count - count, "slice out of range")
        return ByteRegion(owner: owner, baseAddress: baseAddress + offset, count: count)
    }

    /// Asks the kernel to read a memory-mapped region ahead, sequentially (best effort; a
    /// no-op for owned memory). Call before streaming the bytes to an output.
    public func adviseSequentialRead() {
        guard let (start, length) = pageRange(inward: false) else { return }
        SystemCall.advise(.sequential, start, length: length)
        SystemCall.advise(.willNeed, start, length: length)
    }

    /// Drops the region's pages from this process's resident set (memory-mapped regions only;
    /// the kernel's page cache keeps them, and touching them again faults them back). For
    /// streaming readers that are done with a tensor.
    public func releaseResidentPages() {
        guard let (start, length) = pageRange(inward: true) else { return }
        SystemCall.advise(.dontNeed, start, length: length)
    }

    /// The page-aligned range of a mapped region for `madvise`: widened to whole pages, or
    /// (`inward`) narrowed to the pages lying entirely inside it. Nil for owned memory or an
    /// empty range.
    private func pageRange(inward: Bool) -> (UnsafeMutableRawPointer, Int)? {
        guard owner is MappedFile, count > 0 else { return nil }
        let page = SystemCall.pageSize
        let first = Int(bitPattern: baseAddress)
        let last = first + count
        let start = inward ? (first + page - 1) & ~(page - 1) : first & ~(page - 1)
        let end = inward ? last & ~(page - 1) : last
        guard end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) else { return nil }
        return (pointer, end - start)
    }

    /// True when the bytes come from a memory-mapped file (no copy was made).
    public var isMemoryMapped: Bool { owner is MappedFile }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        defer { withExtendedLifetime(owner) {} }
        return try body(UnsafeRawBufferPointer(start: baseAddress, count: count))
    }

    /// The bytes as an array (a copy; for tests and small headers).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}
