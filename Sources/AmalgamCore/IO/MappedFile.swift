import Synchronization

/// A whole file mapped read-only. The file is opened with `O_RDONLY` only: Amalgam never
/// opens an input for writing.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let size: Int
    let address: UnsafeMutableRawPointer?
    /// Device and inode, to recognise the same file under another name.
    public let identity: FileIdentity
    /// This mapping's slot in `MappedRangeGuard` (nil: unguarded, or nothing mapped).
    private var guardSlot: Int?

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
        guardSlot = address.flatMap { MappedRangeGuard.register(start: $0, count: size) }
        Self.live.withLock { $0[ObjectIdentifier(self)] = Weak(self) }
    }

    /// Throws when a page of this mapping could not be read because the file was truncated
    /// under it (by another process) since it was mapped: the bytes read there were zeros.
    /// With `statting`, also fails when the file is now shorter than its mapping (for a system
    /// call that failed with `EFAULT` reading the mapping: the kernel raises no signal then).
    public func checkIntact(statting: Bool = false) throws(AmalgamError) {
        let now = statting ? (try? SystemCall.status(of: path))??.size : nil
        let offset: Int
        if let guardSlot, let fault = MappedRangeGuard.faultOffset(guardSlot) {
            offset = fault
        } else if let now, now < size {
            offset = now
        } else {
            return
        }
        let current = statting ? now : (try? SystemCall.status(of: path))??.size
        throw AmalgamError(
            .io,
            "the file changed while being read: it was \(size) bytes, is now \(current.map { "\($0) bytes" } ?? "gone")",
            file: path, offset: UInt64(offset))
    }

    /// `checkIntact(statting:)` for every file mapped now.
    public static func checkAllIntact(statting: Bool = false) throws(AmalgamError) {
        let files = live.withLock { $0.values.compactMap(\.file) }
        for file in files.sorted(by: { $0.path < $1.path }) { try file.checkIntact(statting: statting) }
    }

    private struct Weak: @unchecked Sendable {
        weak var file: MappedFile?
        init(_ file: MappedFile) { self.file = file }
    }
    private static let live = Mutex<[ObjectIdentifier: Weak]>([:])

    /// The whole file as a region.
    public var region: ByteRegion {
        // An empty file maps nothing; hand out a valid non-null address with count 0.
        let base = address.map { UnsafeRawPointer($0) } ?? UnsafeRawPointer(MappedFile.emptyByte)
        return ByteRegion(owner: self, baseAddress: base, count: size)
    }

    nonisolated(unsafe) private static let emptyByte = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

    deinit {
        if address != nil { _ = Self.live.withLock { $0.removeValue(forKey: ObjectIdentifier(self)) } }
        if let guardSlot { MappedRangeGuard.unregister(guardSlot) }
        if let address { SystemCall.unmap(address, length: size) }
    }
}
