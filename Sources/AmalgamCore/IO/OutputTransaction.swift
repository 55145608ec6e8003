#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// All-or-nothing output of one or more files (a model, its shards, its index).
///
/// Each file is written to a hidden temporary file in its target folder; `commit()` fsyncs
/// and renames them all into place. Until then nothing exists under a target name, and if
/// the transaction is dropped without a commit (an error midway, a crash before rename)
/// the temporaries are removed. Targets that exist are refused unless `overwrite` is set;
/// a target that is one of the inputs is always refused.
///
/// Not thread-safe: one writer thread drives a transaction.
public final class OutputTransaction {
    private let overwrite: Bool
    private let protectedInputs: Set<FileIdentity>
    private var files: [OutputFile] = []
    private var committed = false

    /// - Parameters:
    ///   - overwrite: replace existing targets (`--force`).
    ///   - inputs: identities of the files being read; writing over them is refused.
    public init(overwrite: Bool, protecting inputs: Set<FileIdentity> = []) {
        self.overwrite = overwrite
        self.protectedInputs = inputs
    }

    /// Checks that `path` may be written, without creating anything: call for every planned
    /// target before doing expensive work.
    public func checkTarget(_ path: String) throws(AmalgamError) {
        if let identity = FileIdentity.of(path: path) {
            if protectedInputs.contains(identity) {
                throw AmalgamError(.alreadyExists, "refusing to overwrite an input file", file: path)
            }
            guard overwrite else {
                throw AmalgamError(.alreadyExists, "output exists; pass --force to overwrite it", file: path)
            }
            var info = stat()
            if stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
                throw AmalgamError(.alreadyExists, "output is a directory", file: path)
            }
        }
        if files.contains(where: { $0.targetPath == path }) {
            throw AmalgamError(.internal, "the same output is written twice", file: path)
        }
    }

    /// Starts a new file that becomes `path` on commit.
    public func create(_ path: String) throws(AmalgamError) -> OutputFile {
        precondition(!committed, "transaction already committed")
        try checkTarget(path)
        let file = try OutputFile(targetPath: path)
        files.append(file)
        return file
    }

    /// Flushes, fsyncs and renames every file into place, then fsyncs the folders.
    public func commit() throws(AmalgamError) {
        precondition(!committed, "transaction committed twice")
        for file in files { try file.finish() }
        // Re-check just before renaming: something may have appeared meanwhile.
        for file in files where !overwrite && FileIdentity.of(path: file.targetPath) != nil {
            throw AmalgamError(
                .alreadyExists, "output appeared while writing; pass --force to overwrite it", file: file.targetPath)
        }
        for file in files {
            guard rename(file.temporaryPath, file.targetPath) == 0 else {
                throw AmalgamError(
                    .io, "cannot move the finished output into place", file: file.targetPath,
                    cause: String(cString: strerror(errno)))
            }
            file.renamed = true
        }
        committed = true
        for folder in Set(files.map { FileSystem.folder(of: $0.targetPath) }) {
            let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if descriptor >= 0 {
                _ = fsync(descriptor)
                close(descriptor)
            }
        }
    }

    /// Paths this transaction will create (in creation order).
    public var targetPaths: [String] { files.map(\.targetPath) }

    deinit {
        if !committed {
            for file in files { file.discard() }
        }
    }
}

/// A file being written inside an `OutputTransaction`. Small writes are buffered; large
/// writes go straight to the kernel.
public final class OutputFile {
    public let targetPath: String
    let temporaryPath: String
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private let bufferLimit = 1 << 20
    /// Bytes written so far.
    public private(set) var position: Int = 0
    fileprivate var renamed = false

    init(targetPath: String) throws(AmalgamError) {
        self.targetPath = targetPath
        let folder = FileSystem.folder(of: targetPath)
        let base = FileSystem.baseName(of: targetPath)
        var template = Array("\(folder)/.\(base).amalgam-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else {
            throw AmalgamError(
                .io, "cannot create a temporary file in \(folder)", file: targetPath,
                cause: String(cString: strerror(errno)))
        }
        _ = fchmod(descriptor, 0o644)
        self.descriptor = descriptor
        self.temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        buffer.reserveCapacity(bufferLimit)
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(AmalgamError) {
        if bytes.count >= bufferLimit {
            try flush()
            try writeAll(bytes)
        } else {
            if buffer.count + bytes.count > bufferLimit { try flush() }
            buffer.append(contentsOf: bytes)
        }
        position += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws(AmalgamError) {
        var failure: AmalgamError?
        bytes.withUnsafeBytes { raw in
            do throws(AmalgamError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public func write(_ text: String) throws(AmalgamError) { try write(Array(text.utf8)) }

    public func write(_ region: ByteRegion) throws(AmalgamError) {
        try region.withUnsafeBytes { (raw) throws(AmalgamError) in try write(raw) }
    }

    /// Appends `count` copies of `byte` (padding).
    public func pad(_ count: Int, with byte: UInt8 = 0) throws(AmalgamError) {
        try write([UInt8](repeating: byte, count: count))
    }

    private func flush() throws(AmalgamError) {
        guard !buffer.isEmpty else { return }
        var failure: AmalgamError?
        buffer.withUnsafeBytes { raw in
            do throws(AmalgamError) { try writeAll(raw) } catch { failure = error }
        }
        if let failure { throw failure }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(AmalgamError) {
        guard descriptor >= 0 else { throw AmalgamError(.internal, "write after finish", file: targetPath) }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, min(bytes.count - offset, 1 << 30))
            if written < 0 {
                if errno == EINTR { continue }
                throw AmalgamError(
                    .io, "cannot write", file: targetPath, offset: UInt64(position),
                    cause: String(cString: strerror(errno)))
            }
            offset += written
        }
    }

    fileprivate func finish() throws(AmalgamError) {
        guard descriptor >= 0 else { return }
        try flush()
        guard fsync(descriptor) == 0 else {
            throw AmalgamError(.io, "cannot fsync", file: targetPath, cause: String(cString: strerror(errno)))
        }
        close(descriptor)
        descriptor = -1
    }

    fileprivate func discard() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        if !renamed { unlink(temporaryPath) }
    }
}
