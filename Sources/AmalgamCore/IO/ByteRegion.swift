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
        let descriptor: FileDescriptor
        do { descriptor = try FileDescriptor.open(path) } catch {
            throw AmalgamError("cannot open for reading", file: path, errno: error)
        }
        defer { descriptor.close() }
        let status: FileStatus
        do { status = try descriptor.status() } catch { throw AmalgamError("cannot stat", file: path, errno: error) }
        guard status.kind == .regular else {
            throw AmalgamError(.invalidFormat, "not a regular file", file: path)
        }
        identity = status.identity
        size = status.size
        if size == 0 {
            address = nil
            return
        }
        do { address = try descriptor.mapReadOnly(size: size) } catch {
            throw AmalgamError("cannot memory-map \(size) bytes", file: path, errno: error)
        }
    }

    /// The whole file as a region.
    public var region: ByteRegion {
        // An empty file maps nothing; hand out a valid non-null address with count 0.
        let base = address.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(MappedFile.emptyByte)
        return ByteRegion(owner: self, baseAddress: base, count: size)
    }

    nonisolated(unsafe) private static let emptyByte = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

    deinit {
        if let address { SystemCall.unmap(address, length: size) }
    }
}

/// Device and inode of a file: equal identities name the same file.
public struct FileIdentity: Hashable, Sendable {
    public let device: UInt64
    public let inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// The identity of the file at `path`, or nil when it does not exist.
    public static func of(path: String) -> FileIdentity? {
        (try? SystemCall.status(of: path))??.identity
    }
}

/// Small file-system queries shared by plugins and tools.
public enum FileSystem {
    /// Names in `folder` (without `.` and `..`), sorted; empty when it cannot be read.
    public static func list(_ folder: String) -> [String] {
        (try? SystemCall.listDirectory(folder)) ?? []
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
        (try? SystemCall.status(of: path))??.kind == .directory
    }

    /// True when something exists at `path`.
    public static func exists(_ path: String) -> Bool { FileIdentity.of(path: path) != nil }

    /// Creates `path` and its missing parents (like `mkdir -p`); returns the folders it
    /// created, outermost first.
    @discardableResult
    public static func createFolder(_ path: String) throws(AmalgamError) -> [String] {
        var missing: [String] = []
        var current = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        while !current.isEmpty, current != "/", current != ".", !exists(current) {
            missing.append(current)
            current = folder(of: current)
        }
        var created: [String] = []
        for folder in missing.reversed() {
            do {
                try SystemCall.makeDirectory(folder)
                created.append(folder)
            } catch {
                // Another process may have made it meanwhile.
                if error != .fileExists { throw AmalgamError("cannot create the folder", file: folder, errno: error) }
            }
        }
        return created
    }

    /// The size of the file at `path`.
    public static func size(of path: String) throws(AmalgamError) -> Int {
        do {
            guard let status = try SystemCall.status(of: path) else {
                throw AmalgamError(.notFound, "no such file or folder", file: path)
            }
            return status.size
        } catch let error as Errno {
            throw AmalgamError("cannot stat", file: path, errno: error)
        } catch let error as AmalgamError {
            throw error
        } catch {
            throw AmalgamError(.internal, "\(error)", file: path)
        }
    }
}
