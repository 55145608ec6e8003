/// Every file one command invocation writes (models, shards, indexes, companion files,
/// factors, reports, logs), committed together at the end or not at all.
///
/// Files are written to hidden temporaries in their target folders
/// (`.NAME.amalgam-PID-XXXXXX`); `commit()` fsyncs and renames them all into place. Until
/// then nothing exists under a target name, and if the set is dropped without a commit (an
/// error midway) the temporaries, and the folders the set created for them, are removed. A
/// process killed before commit leaves temporaries behind; the next set that writes into the
/// same folder removes those whose process is gone.
///
/// Targets that exist are refused unless `overwrite` is set; a target that is one of the
/// inputs is always refused. Not thread-safe: one thread drives a set.
public final class OutputSet {
    private let overwrite: Bool
    private var protectedInputs: Set<FileIdentity>
    private var reserved: [String] = []
    private var files: [OutputFile] = []
    private var scratchFiles: [OutputFile] = []
    /// Folders this set created (outermost first), removed again if it does not commit.
    private var createdFolders: [String] = []
    private var cleanedFolders: Set<String> = []
    private var committed = false
    /// Targets compressed with zstd when the set commits, with their levels.
    private var compressionLevels: [String: Int] = [:]
    /// Receives one line for each choice the user should know about (a companion file kept).
    public let warn: @Sendable (String) -> Void

    /// - Parameters:
    ///   - overwrite: replace existing targets (`--force`).
    ///   - inputs: identities of the files being read; writing over them is refused.
    ///   - warn: where lines for the user go.
    public init(
        overwrite: Bool, protecting inputs: Set<FileIdentity> = [],
        warn: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.overwrite = overwrite
        self.protectedInputs = inputs
        self.warn = warn
    }

    /// Whether existing targets are replaced.
    public var overwrites: Bool { overwrite }

    /// Adds the file at `path` (if it exists) to the inputs that must never be overwritten.
    public func protect(_ path: String) {
        if let identity = FileIdentity.of(path: path) { protectedInputs.insert(identity) }
    }

    /// Checks that `path` may be written and claims it for this set, creating nothing: call
    /// for every planned target before doing expensive work.
    public func reserve(_ path: String) throws(AmalgamError) {
        guard !reserved.contains(path) else {
            throw AmalgamError(.usage, "two outputs of this command would be the same file", file: path)
        }
        try checkTarget(path)
        reserved.append(path)
    }

    /// Checks `path` as `reserve` does, without claiming it.
    public func checkTarget(_ path: String) throws(AmalgamError) {
        let status: FileStatus?
        do { status = try SystemCall.status(of: path) } catch {
            throw AmalgamError("cannot stat", file: path, errno: error)
        }
        guard let status else { return }
        if protectedInputs.contains(status.identity) {
            throw AmalgamError(.alreadyExists, "refusing to overwrite an input file", file: path)
        }
        guard overwrite else {
            throw AmalgamError(.alreadyExists, "output exists; pass --force to overwrite it", file: path)
        }
        if status.kind == .directory {
            throw AmalgamError(.alreadyExists, "output is a directory", file: path)
        }
    }

    /// True when `path` was reserved or created in this set.
    public func isReserved(_ path: String) -> Bool { reserved.contains(path) }

    /// Starts a new file that becomes `path` on commit (reserving it first if needed). Missing
    /// parent folders are created.
    public func create(_ path: String) throws(AmalgamError) -> OutputFile {
        precondition(!committed, "output set already committed")
        if !reserved.contains(path) { try reserve(path) }
        guard !files.contains(where: { $0.targetPath == path }) else {
            throw AmalgamError(.internal, "the same output is written twice", file: path)
        }
        let file = try OutputFile(targetPath: path, temporaryIn: try prepareFolder(of: path))
        files.append(file)
        return file
    }

    /// A scratch file in the folder of `path`, never renamed and removed when the set ends
    /// (committed or not). For bytes a command needs again while it runs.
    public func scratch(besides path: String) throws(AmalgamError) -> OutputFile {
        let file = try OutputFile(targetPath: path, temporaryIn: try prepareFolder(of: path), scratch: true)
        scratchFiles.append(file)
        return file
    }

    /// Writes a companion file (config.json, tokenizer.json) to `path`. The same contents
    /// twice in one set are written once; an existing file with these contents is left
    /// alone, and a different one is kept (with a warning) unless the set overwrites.
    public func writeCompanion(_ contents: ByteRegion, to path: String) throws(AmalgamError) {
        if let earlier = files.first(where: { $0.targetPath == path }) {
            guard earlier.companionContents?.bytes == contents.bytes else {
                throw AmalgamError(
                    .mismatch, "two outputs of this command write different companion files here", file: path)
            }
            return
        }
        if let status = try? SystemCall.status(of: path) {
            if let existing = try? MappedFile(path: path), existing.region.bytes == contents.bytes { return }
            if protectedInputs.contains(status.identity) { return }
            guard overwrite else {
                warn(
                    "kept the existing \(path); it differs from the model's \(FileSystem.baseName(of: path)) (--force replaces it)"
                )
                return
            }
        }
        let file = try create(path)
        file.companionContents = contents
        try file.write(contents)
    }

    /// Makes the file that becomes `path` zstd-compressed (at `level`): it is written and read
    /// back uncompressed while the command runs and compressed, streaming, at the commit.
    public func compressOnCommit(_ path: String, level: Int) { compressionLevels[path] = level }

    /// Replaces the finished `file` with its zstd-compressed copy.
    private func compress(_ file: OutputFile, level: Int) throws(AmalgamError) -> OutputFile {
        let packed = try OutputFile(
            targetPath: file.targetPath, temporaryIn: FileSystem.folder(of: file.targetPath))
        let source = try MappedFile(path: file.temporaryPath)
        source.region.adviseSequentialRead()
        try Zstd.compress(source.region, level: level, threads: Parallelism.current.threads, label: file.targetPath) {
            (bytes) throws(AmalgamError) in try packed.write(bytes)
        }
        try packed.finish()
        file.discard()
        return packed
    }

    /// Flushes and fsyncs every file written so far, so it can be read back before the commit.
    public func finishFiles() throws(AmalgamError) {
        for file in files { try file.finish() }
    }

    /// Where the file for `target` is being written until the commit, nil when none is.
    public func stagedPath(of target: String) -> String? {
        files.first { $0.targetPath == target && !$0.renamed }?.temporaryPath
    }

    /// Flushes, fsyncs and renames every file into place, then fsyncs the folders and
    /// removes the scratch files.
    public func commit() throws(AmalgamError) {
        precondition(!committed, "output set committed twice")
        for file in files { try file.finish() }
        for (index, file) in files.enumerated() {
            if let level = compressionLevels[file.targetPath] { files[index] = try compress(file, level: level) }
        }
        // Nothing made from an input truncated under the reader is committed.
        try MappedFile.checkAllIntact()
        // Commits into one folder are serialised across processes, so of two runs writing the
        // same targets one moves its whole set in and the other sees it and fails.
        let locks = try lockFolders(Set(files.map { FileSystem.folder(of: $0.targetPath) }).sorted())
        defer { for lock in locks { lock.close() } }
        // Re-check just before renaming: something may have appeared meanwhile.
        for file in files where !overwrite && FileIdentity.of(path: file.targetPath) != nil {
            throw AmalgamError(
                .alreadyExists, "output appeared while writing; pass --force to overwrite it", file: file.targetPath)
        }
        for file in files {
            do {
                try SystemCall.rename(file.temporaryPath, to: file.targetPath)
            } catch {
                throw AmalgamError("cannot move the finished output into place", file: file.targetPath, errno: error)
            }
            file.renamed = true
        }
        committed = true
        for folder in Set(files.map { FileSystem.folder(of: $0.targetPath) }) { SystemCall.syncDirectory(folder) }
        for file in scratchFiles { file.discard() }
    }

    /// Takes every folder's commit lock, in sorted order (no two sets wait on each other).
    private func lockFolders(_ folders: [String]) throws(AmalgamError) -> [FileDescriptor] {
        var locks: [FileDescriptor] = []
        for folder in folders {
            do {
                let lock = try FileDescriptor.open(folder, directory: true)
                locks.append(lock)
                try lock.lockExclusive()
            } catch {
                for lock in locks { lock.close() }
                throw AmalgamError("cannot lock the output folder", file: folder, errno: error)
            }
        }
        return locks
    }

    /// Target paths of the files created so far, in creation order.
    public var paths: [String] { files.map(\.targetPath) }

    deinit {
        for file in scratchFiles { file.discard() }
        guard !committed else { return }
        for file in files { file.discard() }
        for folder in createdFolders.reversed() { try? SystemCall.removeDirectory(folder) }
    }

    /// The folder of `path`, created (with its parents) when missing; stale temporaries of
    /// dead processes there are removed the first time.
    private func prepareFolder(of path: String) throws(AmalgamError) -> String {
        let folder = FileSystem.folder(of: path)
        createdFolders += try FileSystem.createFolder(folder)
        if cleanedFolders.insert(folder).inserted { OutputFile.removeStaleTemporaries(in: folder) }
        return folder
    }
}
