import AmalgamCore

/// PyTorch checkpoints (`pytorch_model.bin`, `.pt`, `.pth`) as `torch.save` writes them since
/// PyTorch 1.6, read without executing the pickle (`TorchArchive`, `PickleMachine`); sharded
/// checkpoints through `pytorch_model.bin.index.json`; Hugging Face folders holding them.
/// Reading only: safetensors is the format to write.
public struct PyTorchPlugin: FormatReader {
    public init() {}

    public var identifier: String { "pytorch" }
    public var displayName: String { "PyTorch checkpoint" }
    public var fileExtensions: [String] { ["bin", "pt", "pth", "bin.index.json"] }

    static let indexSuffix = ".bin.index.json"

    /// A zip whose first member is `.../data.pkl` (torch.save writes it first), or the legacy
    /// format's magic number (refused when read, with the reason).
    public func sniff(_ prefix: [UInt8]) -> Bool {
        if prefix.starts(with: TorchArchive.legacyMagic) { return true }
        guard prefix.count >= 30, prefix.starts(with: [0x50, 0x4B, 3, 4]) else { return false }
        let length = Int(prefix[26]) | Int(prefix[27]) << 8
        let visible = prefix[30...].prefix(length)
        return visible.count == length && String(decoding: visible, as: UTF8.self).hasSuffix("data.pkl")
    }

    public func recognizesDirectory(_ path: String) -> Bool { (try? modelFile(inFolder: path)) != nil }

    /// A folder's checkpoint: its `*.bin.index.json` (sharded), else `pytorch_model.bin`, else
    /// `adapter_model.bin`.
    func modelFile(inFolder folder: String) throws(AmalgamError) -> String {
        let indexes = FileSystem.list(folder).filter { $0.hasSuffix(Self.indexSuffix) && !$0.hasPrefix(".") }
        if indexes.count == 1 { return folder + "/" + indexes[0] }
        for name in ["pytorch_model.bin", "adapter_model.bin"] where FileIdentity.of(path: folder + "/" + name) != nil {
            return folder + "/" + name
        }
        throw AmalgamError(
            .notFound,
            indexes.count > 1
                ? "folder holds several *.bin.index.json files; name one"
                : "folder holds no pytorch_model.bin or *.bin.index.json", file: folder)
    }

    public func read(_ path: String, options: ReadOptions) throws -> ModelGraph {
        let isFolder = FileSystem.isFolder(path)
        let file = isFolder ? try modelFile(inFolder: path) : path
        var graph: ModelGraph
        if file.hasSuffix(Self.indexSuffix) {
            var notes: [String] = []
            let (tensors, metadata) = try ShardIndex.readShards(indexPath: file) { shard in
                let contents = try TorchArchive.read(path: shard)
                notes += contents.notes
                return (contents.tensors, Metadata())
            }
            graph = try AmalgamError.withContext(file: file) {
                try ModelGraph(tensors: tensors, metadata: metadata, sourceFormat: identifier)
            }
            graph.notes += notes
        } else {
            let contents = try AmalgamError.withContext(file: file) { try TorchArchive.read(path: file) }
            graph = try AmalgamError.withContext(file: file) {
                try ModelGraph(tensors: contents.tensors, sourceFormat: identifier)
            }
            graph.notes += contents.notes
        }
        guard isFolder || CompanionFiles.isHuggingFaceName(FileSystem.baseName(of: file)) else { return graph }
        return try ConfigHints.attach(to: graph, folder: FileSystem.folder(of: file))
    }
}
