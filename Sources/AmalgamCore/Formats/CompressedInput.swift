/// Model files compressed with zstd (`model.safetensors.zst`, `model.gguf.zst`): the format
/// is the name's without `.zst` (or `--from`); the file is decompressed, streaming, into an
/// unlinked temporary file in `$TMPDIR` (nothing is left behind, even by a killed process),
/// which is then read and memory-mapped as the uncompressed file would be. The decompressed
/// size is bounded by what the format's header states: a frame declaring more, or producing
/// more, is refused as a decompression bomb before it fills the disk.
public enum CompressedInput {
    /// The name without its `.zst`.
    public static func innerName(of path: String) -> String {
        path.lowercased().hasSuffix(".zst") ? String(path.dropLast(4)) : path
    }

    /// Reads the zstd-compressed model at `path` with `reader` (the format of the data inside).
    static func read(
        _ path: String, reader: any FormatReader, options: ReadOptions
    ) throws -> ModelGraph {
        guard try reader.impliedSize(ofPrefix: ByteRegion(copying: [])) != nil else {
            throw AmalgamError(
                .unsupported,
                "zstd-compressed \(reader.displayName) files are not read (only formats whose header states the file size: safetensors, GGUF)",
                file: path)
        }
        let source = try AmalgamError.withContext(file: path) { try MappedFile(path: path) }
        let (descriptor, temporary): (FileDescriptor, String)
        do {
            (descriptor, temporary) = try SystemCall.makeTemporaryFile(
                SystemCall.temporaryFolder + "/.amalgam-zstd-\(SystemCall.processID)-XXXXXX")
        } catch {
            throw AmalgamError(
                "cannot create a temporary file in \(SystemCall.temporaryFolder) (set TMPDIR) to decompress into",
                file: path, errno: error)
        }
        defer { descriptor.close() }
        try? SystemCall.removeFile(temporary)
        source.region.adviseSequentialRead()
        _ = try Zstd.decompress(source.region, label: path, into: descriptor) { (prefix) throws(AmalgamError) in
            do throws(AmalgamError) {
                let size = try reader.impliedSize(ofPrefix: prefix)
                return size ?? .needsMore
            } catch { throw error.adding(file: path + " (decompressed)") }
        }
        source.region.releaseResidentPages()
        let handle = "/proc/self/fd/\(descriptor.rawValue)"
        let label = path + " (decompressed)"
        do {
            var graph = try reader.read(handle, options: options).attributingLoadErrors(to: label)
            // The companions of a Hugging Face name sit beside the compressed file.
            let inner = FileSystem.baseName(of: innerName(of: path))
            if graph.attachments.isEmpty, CompanionFiles.isHuggingFaceName(inner) {
                graph = try ConfigHints.attach(to: graph, folder: FileSystem.folder(of: path))
            }
            return graph
        } catch var error as AmalgamError {
            if error.context.file == nil || error.context.file == handle { error.context.file = label }
            throw error
        }
    }
}
