#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An error number from a failed system call, kept as a value so programs can switch on it
/// (`.noSuchFile`) and people can read it (`strerror`'s text).
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's `errno` now.
    public static var current: Errno { Errno(rawValue: errno) }

    public static let noSuchFile = Errno(rawValue: ENOENT)
    public static let interrupted = Errno(rawValue: EINTR)
    public static let fileExists = Errno(rawValue: EEXIST)
    public static let notDirectory = Errno(rawValue: ENOTDIR)
    public static let isDirectory = Errno(rawValue: EISDIR)
    public static let permissionDenied = Errno(rawValue: EACCES)
    public static let noSpace = Errno(rawValue: ENOSPC)
    public static let noSuchProcess = Errno(rawValue: ESRCH)
    public static let directoryNotEmpty = Errno(rawValue: ENOTEMPTY)
    public static let badAddress = Errno(rawValue: EFAULT)

    /// `strerror`'s text, e.g. `No such file or directory`.
    public var description: String { String(cString: strerror(rawValue)) }
}
