import AmalgamCore

/// The safetensors format: single files, Hugging Face folders and sharded checkpoints
/// (`model.safetensors.index.json` plus `model-0000i-of-0000n.safetensors`).
public struct SafetensorsPlugin: FormatReader, FormatWriter {
    public typealias Options = SafetensorsWriterOptions

    public init() {}

    public var identifier: String { "safetensors" }
    public var displayName: String { "safetensors" }
    public var fileExtensions: [String] { ["safetensors", "safetensors.index.json"] }

    /// A plausible header length (at most the 100 MB limit) followed by `{`.
    public func sniff(_ prefix: [UInt8]) -> Bool {
        guard prefix.count >= 9 else { return false }
        let length = prefix.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return length >= 2 && length <= SafetensorsFile.maximumHeaderBytes && prefix[8] == UInt8(ascii: "{")
    }

    public func recognizesDirectory(_ path: String) -> Bool {
        (try? modelFile(inFolder: path)) != nil
    }

    /// The file that holds a Hugging Face folder's model: its `*.safetensors.index.json`
    /// (sharded), else `model.safetensors`, else the folder's only `*.safetensors` file.
    func modelFile(inFolder folder: String) throws(AmalgamError) -> String {
        if let index = try? indexFile(inFolder: folder) { return index }
        let single = folder + "/model.safetensors"
        if FileIdentity.of(path: single) != nil { return single }
        let candidates = FileSystem.list(folder).filter { $0.hasSuffix(".safetensors") && !$0.hasPrefix(".") }
        guard candidates.count == 1 else {
            throw AmalgamError(
                .notFound,
                candidates.isEmpty
                    ? "folder holds no model.safetensors or *.safetensors.index.json"
                    : "folder holds several .safetensors files and no index; name one", file: folder)
        }
        return folder + "/" + candidates[0]
    }

    /// The index file of a sharded checkpoint folder: `model.safetensors.index.json`, or the
    /// only `*.safetensors.index.json` there.
    func indexFile(inFolder folder: String) throws(AmalgamError) -> String {
        let preferred = folder + "/model.safetensors.index.json"
        if FileIdentity.of(path: preferred) != nil { return preferred }
        let candidates = FileSystem.list(folder).filter { $0.hasSuffix(ShardIndex.suffix) }
        guard candidates.count == 1 else {
            throw AmalgamError(
                .notFound,
                candidates.isEmpty
                    ? "folder holds no *.safetensors.index.json" : "folder holds several index files; name one",
                file: folder)
        }
        return folder + "/" + candidates[0]
    }

    public func read(_ path: String, options: ReadOptions) throws -> ModelGraph {
        let isFolder = FileSystem.isFolder(path)
        let file = isFolder ? try modelFile(inFolder: path) : path
        let graph: ModelGraph
        if file.hasSuffix(ShardIndex.suffix) {
            graph = try readSharded(indexPath: file)
        } else {
            let contents = try SafetensorsFile(path: file)
            graph = try AmalgamError.withContext(file: file) {
                try ModelGraph(tensors: contents.tensors, metadata: contents.metadata, sourceFormat: identifier)
            }
        }
        // Companion files are the model's only in a Hugging Face layout.
        guard isFolder || CompanionFiles.isHuggingFaceName(FileSystem.baseName(of: file)) else { return graph }
        return try ConfigHints.attach(to: graph, folder: FileSystem.folder(of: file))
    }

    /// A single file is audited rule by rule; a folder or sharded index by loading it.
    public func audit(_ path: String, options: ReadOptions, strict: Bool) -> FileAudit {
        guard !FileSystem.isFolder(path), !path.hasSuffix(ShardIndex.suffix) else {
            return defaultAudit(path, options: options)
        }
        return SafetensorsFile.audit(path: path, strict: strict)
    }

    private func readSharded(indexPath: String) throws -> ModelGraph {
        let (tensors, metadata) = try ShardIndex.readShards(indexPath: indexPath) { shardPath in
            let file = try SafetensorsFile(path: shardPath)
            return (file.tensors, file.metadata)
        }
        return try AmalgamError.withContext(file: indexPath) {
            try ModelGraph(tensors: tensors, metadata: metadata, sourceFormat: identifier)
        }
    }

    public func plan(_ graph: ModelGraph, to path: String, options: Options) throws -> any WritePlan {
        try AmalgamError.withContext(file: path) { try SafetensorsWritePlan(graph, to: path, options: options) }
    }
}

extension ShardIndex {
    /// The file-name ending of a safetensors checkpoint's index.
    static let suffix = ".safetensors.index.json"
}
