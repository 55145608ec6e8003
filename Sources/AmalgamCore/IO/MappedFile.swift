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
