/// A file being written inside an `OutputSet`. Small writes are buffered; large writes go
/// straight to the kernel.
public final class OutputFile {
    public let targetPath: String
    let temporaryPath: String
    private var descriptor: FileDescriptor?
    private var buffer: [UInt8] = []
    private let bufferLimit = 1 << 20
    /// Bytes written so far.
    public private(set) var position: Int = 0
    var renamed = false
    /// What a companion file holds (to recognise the same companion written twice).
    var companionContents: ByteRegion?

    /// The marker in temporary names: `.NAME.amalgam-PID-XXXXXX`.
    static let marker = ".amalgam-"

    init(targetPath: String, temporaryIn folder: String, scratch: Bool = false) throws(AmalgamError) {
        self.targetPath = targetPath
        let base = FileSystem.baseName(of: targetPath) + (scratch ? ".scratch" : "")
        let template = "\(folder)/.\(base)\(Self.marker)\(SystemCall.processID)-XXXXXX"
        do {
            (descriptor, temporaryPath) = try SystemCall.makeTemporaryFile(template)
        } catch {
            throw AmalgamError("cannot create a temporary file in \(folder)", file: targetPath, errno: error)
        }
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
        // Array.withUnsafeBytes rethrows untyped errors: carry the typed one out by hand.
        var failure: AmalgamError?
        bytes.withUnsafeBytes { raw in
            do throws(AmalgamError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    public func write(_ text: String) throws(AmalgamError) { try write(Array(text.utf8)) }

    /// Appends a region; for a slice of a mapped input, fails when the input was truncated
    /// while it was copied.
    public func write(_ region: ByteRegion) throws(AmalgamError) {
        try region.withUnsafeBytes { (raw) throws(AmalgamError) in try write(raw) }
        try (region.owner as? MappedFile)?.checkIntact()
    }

    /// Replaces bytes already written at `offset` (a header field known only once the data
    /// after it is written: a zip member's CRC and sizes). - Precondition: inside what was written.
    public func overwrite(at offset: Int, with bytes: [UInt8]) throws(AmalgamError) {
        precondition(offset >= 0 && offset + bytes.count <= position, "overwrite outside the written bytes")
        try flush()
        guard let descriptor else { throw AmalgamError(.internal, "write after finish", file: targetPath) }
        var failure: Errno?
        bytes.withUnsafeBytes { raw in
            do throws(Errno) { try descriptor.writeAll(raw, at: offset) } catch { failure = error }
        }
        if let failure { throw AmalgamError("cannot write", file: targetPath, errno: failure, offset: UInt64(offset)) }
    }

    /// Appends `count` copies of `byte` (padding).
    public func pad(_ count: Int, with byte: UInt8 = 0) throws(AmalgamError) {
        try write([UInt8](repeating: byte, count: count))
    }

    /// The bytes written so far, flushed and mapped for reading (a scratch file read back).
    public func mapWritten() throws(AmalgamError) -> MappedFile {
        try flush()
        return try MappedFile(path: temporaryPath)
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
        guard let descriptor else { throw AmalgamError(.internal, "write after finish", file: targetPath) }
        do {
            try descriptor.writeAll(bytes)
        } catch {
            // write(2) from a mapping past the end of a truncated input fails with EFAULT
            // (the kernel raises no signal): name the input, not the output.
            if error == .badAddress { try MappedFile.checkAllIntact(statting: true) }
            throw AmalgamError("cannot write", file: targetPath, errno: error, offset: UInt64(position))
        }
    }

    func finish() throws(AmalgamError) {
        guard let descriptor else { return }
        try flush()
        do { try descriptor.sync() } catch { throw AmalgamError("cannot fsync", file: targetPath, errno: error) }
        descriptor.close()
        self.descriptor = nil
    }

    func discard() {
        descriptor?.close()
        descriptor = nil
        if !renamed { try? SystemCall.removeFile(temporaryPath) }
    }

    /// Removes `.NAME.amalgam-PID-XXXXXX` files in `folder` whose process has ended (left by
    /// a killed run).
    static func removeStaleTemporaries(in folder: String) {
        for name in (try? SystemCall.listDirectory(folder)) ?? [] where name.hasPrefix(".") {
            // mkstemp's suffix has no dots, so the marker starts the last dot-separated part.
            guard let last = name.split(separator: ".").last, last.hasPrefix(marker.dropFirst()) else { continue }
            let rest = last.dropFirst(marker.count - 1).split(separator: "-")
            guard rest.count == 2, rest[1].count == 6, let pid = Int32(rest[0]), pid != SystemCall.processID,
                !SystemCall.processExists(pid)
            else { continue }
            try? SystemCall.removeFile(folder + "/" + name)
        }
    }
}
