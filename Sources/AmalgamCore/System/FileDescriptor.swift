#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open file. A value: `close()` it exactly once.
public struct FileDescriptor: Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Opens `path` read-only (Amalgam never opens an input for writing), or a folder for
    /// `sync()`.
    public static func open(_ path: String, directory: Bool = false) throws(Errno) -> FileDescriptor {
        let flags = O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0)
        return FileDescriptor(rawValue: try SystemCall.retrying { Glibc.open(path, flags) })
    }

    public func close() { _ = Glibc.close(rawValue) }

    /// `flock(LOCK_EX)`: waits until no other process holds the file's (or folder's) lock; the
    /// lock ends with `close()`.
    public func lockExclusive() throws(Errno) {
        _ = try SystemCall.retrying { flock(rawValue, LOCK_EX) }
    }

    public func status() throws(Errno) -> FileStatus {
        var info = stat()
        _ = try SystemCall.retrying { fstat(rawValue, &info) }
        return FileStatus(info)
    }

    /// Reads up to `buffer.count` bytes; returns how many (0 at the end of the file).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return try SystemCall.retrying { Glibc.read(rawValue, base, buffer.count) }
    }

    /// Writes every byte, in as many calls as the kernel needs.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, 1 << 30)
            offset += try SystemCall.retrying { Glibc.write(rawValue, base + offset, chunk) }
        }
    }

    /// Writes every byte at `offset` (`pwrite`), leaving the file position where it was.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(Errno) {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let chunk = min(bytes.count - done, 1 << 30)
            done += try SystemCall.retrying { Glibc.pwrite(rawValue, base + done, chunk, off_t(offset + done)) }
        }
    }

    /// `fsync`: the bytes written so far reach the disk.
    public func sync() throws(Errno) {
        _ = try SystemCall.retrying { fsync(rawValue) }
    }

    /// Maps `size` bytes of the file read-only and private.
    public func mapReadOnly(size: Int) throws(Errno) -> UnsafeMutableRawPointer {
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, rawValue, 0), mapped != MAP_FAILED else {
            throw Errno.current
        }
        return mapped
    }
}
