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
