#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The one place Amalgam calls the C library for files: each call returns its value or throws
/// the `Errno` it failed with, retrying `EINTR` where the call can be interrupted. No C type
/// leaves this layer; callers above it add the file and the context to the error.
public enum SystemCall {
    /// Runs `call` until it does not fail with `EINTR`; a result of -1 throws `errno`.
    @inline(__always)
    static func retrying<T: FixedWidthInteger>(_ call: () -> T) throws(Errno) -> T {
        while true {
            let result = call()
            if result != -1 { return result }
            let failure = Errno.current
            if failure != .interrupted { throw failure }
        }
    }

    /// What `stat` says of a path, or nil when nothing is there (`ENOENT`, `ENOTDIR`).
    /// Symbolic links are followed.
    public static func status(of path: String) throws(Errno) -> FileStatus? {
        var info = stat()
        do {
            _ = try retrying { stat(path, &info) }
        } catch {
            if error == .noSuchFile || error == .notDirectory { return nil }
            throw error
        }
        return FileStatus(info)
    }

    /// `mkdir(path, mode)`.
    public static func makeDirectory(_ path: String, mode: UInt32 = 0o755) throws(Errno) {
        _ = try retrying { mkdir(path, mode_t(mode)) }
    }

    /// `rmdir(path)`: removes an empty folder.
    public static func removeDirectory(_ path: String) throws(Errno) {
        _ = try retrying { rmdir(path) }
    }

    /// `unlink(path)`.
    public static func removeFile(_ path: String) throws(Errno) {
        _ = try retrying { unlink(path) }
    }

    /// `rename(from, to)`: atomic within one file system.
    public static func rename(_ from: String, to: String) throws(Errno) {
        _ = try retrying { Glibc.rename(from, to) }
    }

    /// `realpath(path)`: the absolute path with every link and `..` resolved, or nil when
    /// the path does not resolve.
    public static func resolvedPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Names in `folder` (without `.` and `..`), sorted bytewise.
    public static func listDirectory(_ folder: String) throws(Errno) -> [String] {
        guard let directory = opendir(folder) else { throw Errno.current }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// Creates a new file from `template` (ending in `XXXXXX`, replaced to make the name
    /// unique), open for writing with mode 0644. Returns it and its path.
    public static func makeTemporaryFile(_ template: String) throws(Errno) -> (FileDescriptor, String) {
        var bytes = Array(template.utf8CString)
        let descriptor = try retrying { bytes.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) } }
        _ = fchmod(descriptor, 0o644)
        let path = bytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return (FileDescriptor(rawValue: descriptor), path)
    }

    /// fsyncs a folder, so renames inside it survive a crash (best effort: some file
    /// systems refuse).
    public static func syncDirectory(_ folder: String) {
        guard let descriptor = try? FileDescriptor.open(folder, directory: true) else { return }
        try? descriptor.sync()
        descriptor.close()
    }

    /// This process's id.
    public static var processID: Int32 { getpid() }

    /// The folder for temporary files: `$TMPDIR`, else `/tmp`.
    public static var temporaryFolder: String {
        guard let value = getenv("TMPDIR"), value.pointee != 0 else { return "/tmp" }
        return String(cString: value)
    }

    /// True when a process with this id exists (signal 0: nothing is sent).
    public static func processExists(_ id: Int32) -> Bool {
        kill(id, 0) == 0 || errno == EPERM
    }

    /// Cores this process may use, at least 1: the CPUs of its affinity mask
    /// (`Cpus_allowed_list`, which cpusets, `taskset` and Slurm set), capped by a cgroup v2
    /// CPU quota (`cpu.max`, which container runtimes set); the online CPUs where neither
    /// can be read.
    public static var availableCores: Int {
        var cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        if let status = readSmallFile("/proc/self/status"),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
            let allowed = cpuListCount(line.dropFirst("Cpus_allowed_list:".count))
        {
            cores = allowed
        }
        if let quota = readSmallFile("/sys/fs/cgroup/cpu.max")?.split(separator: " "), quota.count == 2,
            let limit = Double(quota[0]), let period = Double(quota[1].prefix { $0.isNumber }), period > 0
        {
            cores = min(cores, max(1, Int((limit / period).rounded(.up))))
        }
        return cores
    }

    /// How many CPUs a list such as `0-3,8,10-11` names; nil when it does not parse.
    static func cpuListCount(_ list: Substring) -> Int? {
        var count = 0
        for range in list.split(separator: ",") {
            let bounds = range.split(separator: "-").map { Int($0.filter { !$0.isWhitespace }) }
            guard let first = bounds.first ?? nil else { return nil }
            let last = bounds.count == 2 ? (bounds[1] ?? -1) : first
            guard bounds.count <= 2, last >= first else { return nil }
            count += last - first + 1
        }
        return count > 0 ? count : nil
    }

    /// The text of a small file (its first 64 KiB), or nil when it cannot be read.
    public static func readSmallFile(_ path: String) -> String? {
        guard FileIdentity.of(path: path) != nil else { return nil }
        return String(decoding: readPrefix(of: path, count: 1 << 16), as: UTF8.self)
    }

    /// Up to `count` leading bytes of a file (fewer for short or unreadable files).
    public static func readPrefix(of path: String, count: Int) -> [UInt8] {
        guard let descriptor = try? FileDescriptor.open(path) else { return [] }
        defer { descriptor.close() }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got =
                (try? bytes.withUnsafeMutableBytes { buffer in
                    try descriptor.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                }) ?? 0
            guard got > 0 else { break }
            filled += got
        }
        return Array(bytes.prefix(filled))
    }

    /// The machine's physical memory in bytes.
    public static var physicalMemory: Int { Int(sysconf(Int32(_SC_PHYS_PAGES))) * pageSize }

    /// The size of a memory page.
    public static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }
}

extension SystemCall {
    /// How mapped pages will be used; advice only, never fails.
    public enum PageAdvice: Sendable {
        case sequential, willNeed, dontNeed
    }

    /// `madvise` over `length` bytes from the page-aligned `start`.
    public static func advise(_ advice: PageAdvice, _ start: UnsafeMutableRawPointer, length: Int) {
        switch advice {
        case .sequential: _ = madvise(start, length, MADV_SEQUENTIAL)
        case .willNeed: _ = madvise(start, length, MADV_WILLNEED)
        case .dontNeed: _ = madvise(start, length, MADV_DONTNEED)
        }
    }

    /// Unmaps a region `FileDescriptor.mapReadOnly` returned.
    public static func unmap(_ start: UnsafeMutableRawPointer, length: Int) { _ = munmap(start, length) }
}
