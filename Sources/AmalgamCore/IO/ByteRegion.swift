#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
        _ = madvise(start, length, MADV_SEQUENTIAL)
        _ = madvise(start, length, MADV_WILLNEED)
    }

    /// Drops the region's pages from this process's resident set (memory-mapped regions only;
    /// the kernel's page cache keeps them, and touching them again faults them back). For
    /// streaming readers that are done with a tensor.
    public func releaseResidentPages() {
        guard let (start, length) = pageRange(inward: true) else { return }
        _ = madvise(start, length, MADV_DONTNEED)
    }

    /// The page-aligned range of a mapped region for `madvise`: widened to whole pages, or
    /// (`inward`) narrowed to the pages lying entirely inside it. Nil for owned memory or an
    /// empty range.
    private func pageRange(inward: Bool) -> (UnsafeMutableRawPointer, Int)? {
        guard owner is MappedFile, count > 0 else { return nil }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
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

/// A whole file mapped read-only. The file is opened with `O_RDONLY` only: Amalgam never
/// opens an input for writing.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    let address: UnsafeMutableRawPointer?
    /// Device and inode, to recognise the same file under another name.
    public let identity: FileIdentity

    public init(path: String) throws(AmalgamError) {
        self.path = path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code: AmalgamError.Code = errno == ENOENT ? .notFound : .io
            throw AmalgamError(code, "cannot open for reading", file: path, cause: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw AmalgamError(.io, "cannot stat", file: path, cause: String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw AmalgamError(.invalidFormat, "not a regular file", file: path)
        }
        self.identity = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        self.size = Int(info.st_size)
        if size == 0 {
            address = nil
            return
        }
        let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw AmalgamError(
                .io, "cannot memory-map \(size) bytes", file: path, cause: String(cString: strerror(errno)))
        }
        address = mapped
    }

    /// The whole file as a region.
    public var region: ByteRegion {
        // An empty file maps nothing; hand out a valid non-null address with count 0.
        let base = address.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(MappedFile.emptyByte)
        return ByteRegion(owner: self, baseAddress: base, count: size)
    }

    nonisolated(unsafe) private static let emptyByte = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

    deinit {
        if let address { munmap(address, size) }
    }
}

/// Device and inode of a file: equal identities name the same file.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    /// The identity of the file at `path`, or nil when it does not exist.
    public static func of(path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}

/// Small file-system queries shared by plugins and tools.
public enum FileSystem {
    /// Names in `folder` (without `.` and `..`), sorted; empty when it cannot be read.
    public static func list(_ folder: String) -> [String] {
        guard let directory = opendir(folder) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The folder part of `path`: `.` when it has none, `/` for paths directly under the root.
    public static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The last component of `path` (the whole path when it has no `/`).
    public static func baseName(of path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// True when `path` is an existing folder.
    public static func isFolder(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }
}
