import AmalgamCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The safetensors format: single files and sharded checkpoints
/// (`model.safetensors.index.json` plus `model-0000i-of-0000n.safetensors`).
public struct SafetensorsPlugin: FormatPlugin {
    public init() {}

    public var identifier: String { "safetensors" }
    public var displayName: String { "safetensors" }
    public var fileExtensions: [String] { ["safetensors", "safetensors.index.json"] }
    public var capabilities: FormatCapabilities { [.read, .write, .sharding] }

    /// A plausible header length (at most the 100 MB limit) followed by `{`.
    public func sniff(_ prefix: [UInt8]) -> Bool {
        guard prefix.count >= 9 else { return false }
        let length = prefix.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return length >= 2 && length <= SafetensorsFile.maximumHeaderBytes && prefix[8] == UInt8(ascii: "{")
    }

    public func recognizesDirectory(_ path: String) -> Bool {
        (try? indexFile(inFolder: path)) != nil
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
        let graph: ModelGraph
        if isFolder {
            graph = try readSharded(indexPath: try indexFile(inFolder: path))
        } else if path.hasSuffix(ShardIndex.suffix) {
            graph = try readSharded(indexPath: path)
        } else {
            let file = try SafetensorsFile(path: path)
            graph = try AmalgamError.withContext(file: path) {
                try ModelGraph(tensors: file.tensors, metadata: file.metadata, sourceFormat: identifier)
            }
        }
        return try ConfigHints.attach(to: graph, folder: isFolder ? path : FileSystem.folder(of: path))
    }

    private func readSharded(indexPath: String) throws -> ModelGraph {
        let index = try ShardIndex(path: indexPath)
        let folder = FileSystem.folder(of: indexPath)
        var expected: [String: String] = [:]
        var shardOrder: [String] = []
        for (tensor, shard) in index.weightMap {
            expected[tensor] = shard
            if !shardOrder.contains(shard) { shardOrder.append(shard) }
        }
        var metadata = Metadata()
        var tensors: [Tensor] = []
        for shard in shardOrder.sorted() {
            let shardPath = folder + "/" + shard
            guard FileIdentity.of(path: shardPath) != nil else {
                throw AmalgamError(.notFound, "index names shard '\(shard)', which does not exist", file: indexPath)
            }
            let file = try SafetensorsFile(path: shardPath)
            for tensor in file.tensors {
                guard expected[tensor.name] == shard else {
                    let listed =
                        expected[tensor.name].map { "the index places it in '\($0)'" } ?? "the index does not list it"
                    throw AmalgamError(
                        .invalidFormat, "shard holds this tensor but \(listed)", file: shardPath, tensor: tensor.name)
                }
                expected[tensor.name] = nil
                tensors.append(tensor)
            }
            for entry in file.metadata where metadata[entry.key] == nil { metadata[entry.key] = entry.value }
        }
        if let (missing, shard) = index.weightMap.first(where: { expected[$0.tensor] != nil }) {
            throw AmalgamError(
                .invalidFormat, "index lists this tensor in '\(shard)', but the shard lacks it", file: indexPath,
                tensor: missing)
        }
        for entry in index.metadata where metadata[entry.key] == nil { metadata[entry.key] = entry.value }
        return try AmalgamError.withContext(file: indexPath) {
            try ModelGraph(tensors: tensors, metadata: metadata, sourceFormat: identifier)
        }
    }

    /// Shard by shard, each sorted as the reference writer sorts it.
    public func loadOrder(of graph: ModelGraph, options: WriteOptions) -> [Int] {
        guard let planned = try? SafetensorsWriter.plan(graph) else { return Array(graph.tensors.indices) }
        let position = Dictionary(uniqueKeysWithValues: graph.tensors.enumerated().map { ($1.name, $0) })
        return SafetensorsWriter.split(planned, limit: options.maximumShardBytes).flatMap { shard in
            SafetensorsWriter.header(for: shard, metadata: nil).order.map { position[$0.tensor.name]! }
        }
    }

    @discardableResult
    public func write(_ graph: ModelGraph, to path: String, options: WriteOptions) throws -> [String] {
        let planned = try AmalgamError.withContext(file: path) { try SafetensorsWriter.plan(graph) }
        let shards = SafetensorsWriter.split(planned, limit: options.maximumShardBytes)
        let targets = Self.shardPaths(for: path, count: shards.count)
        let transaction = OutputTransaction(overwrite: options.overwrite, protecting: options.protectedInputs)
        for target in targets.files + [targets.index].compactMap({ $0 }) { try transaction.checkTarget(target) }

        let totalBytes = planned.reduce(0) { $0 + $1.byteCount }
        options.progress.begin(label: "writing \(FileSystem.baseName(of: path))", total: Int64(totalBytes))
        defer { options.progress.finish() }
        // The metadata travels in every shard (as transformers' save_pretrained does).
        let metadata = Self.storableMetadata(graph, warn: options.warn)
        var weightMap: [(tensor: String, shard: String)] = []
        for (shard, target) in zip(shards, targets.files) {
            let file = try transaction.create(target)
            try AmalgamError.withContext(file: target) {
                try SafetensorsWriter.write(shard, metadata: metadata, into: file, progress: options.progress)
            }
            weightMap += shard.tensors.map { ($0.tensor.name, FileSystem.baseName(of: target)) }
        }
        if let indexPath = targets.index {
            let file = try transaction.create(indexPath)
            try file.write(ShardIndex.serialize(totalSize: totalBytes, weightMap: weightMap))
        }
        try writeAttachments(graph, besides: targets.files[0], transaction: transaction, options: options)
        try options.validateBeforeCommit()
        try transaction.commit()
        return transaction.targetPaths
    }

    /// Arrays longer than this stay out of the string metadata (a GGUF vocabulary would
    /// bloat every shard's header; the tokenizer travels as tokenizer.json instead).
    static let maximumMetadataArrayLength = 1024

    static func storableMetadata(_ graph: ModelGraph, warn: (String) -> Void) -> Metadata? {
        var metadata = Metadata()
        var dropped: [String] = []
        for entry in graph.metadata {
            if case .array(let elements) = entry.value, elements.count > maximumMetadataArrayLength {
                dropped.append(entry.key)
            } else {
                metadata[entry.key] = entry.value
            }
        }
        if !dropped.isEmpty {
            let tokenizer =
                graph.attachments.keys.contains { $0.hasPrefix("tokenizer") }
                ? " (the tokenizer is written as a file beside the output)" : ""
            warn(
                "metadata arrays longer than \(maximumMetadataArrayLength) elements are not stored in safetensors metadata: \(dropped.joined(separator: ", "))\(tokenizer)"
            )
        }
        return metadata.isEmpty ? nil : metadata
    }

    /// Companion files (config.json, tokenizer.json) go beside the output. An existing file
    /// with the same contents is left alone; a different one is kept unless --force.
    func writeAttachments(
        _ graph: ModelGraph, besides output: String, transaction: OutputTransaction, options: WriteOptions
    ) throws {
        let folder = FileSystem.folder(of: output)
        for name in graph.attachments.keys.sorted() {
            let contents = graph.attachments[name]!
            let target = folder + "/" + name
            if FileIdentity.of(path: target) != nil {
                if let existing = try? MappedFile(path: target), existing.region.bytes == contents.bytes { continue }
                if options.protectedInputs.contains(FileIdentity.of(path: target)!) { continue }
                guard options.overwrite else {
                    options.warn(
                        "kept the existing \(target); it differs from the source model's \(name) (--force replaces it)")
                    continue
                }
            }
            try transaction.checkTarget(target)
            let file = try transaction.create(target)
            try file.write(contents)
        }
    }

    /// Output names: `OUT` for one shard; otherwise `STEM-0000i-of-0000n.safetensors` and
    /// `STEM.safetensors.index.json` beside it. A folder (existing, or ending in `/`) gets
    /// `model.safetensors` or `model-...` shards and `model.safetensors.index.json`.
    static func shardPaths(for path: String, count: Int) -> (files: [String], index: String?) {
        let isFolder = path.hasSuffix("/") || FileSystem.isFolder(path)
        let folder: String
        var stem: String
        if isFolder {
            folder = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
            stem = "model"
        } else {
            folder = FileSystem.folder(of: path)
            stem = FileSystem.baseName(of: path)
            if stem.hasSuffix(".safetensors") { stem.removeLast(".safetensors".count) }
        }
        if count <= 1 {
            return ([isFolder ? folder + "/model.safetensors" : path], nil)
        }
        let width = max(5, String(count).count)
        func padded(_ n: Int) -> String { String(repeating: "0", count: max(0, width - String(n).count)) + String(n) }
        let files = (1...count).map { "\(folder)/\(stem)-\(padded($0))-of-\(padded(count)).safetensors" }
        return (files, "\(folder)/\(stem)\(ShardIndex.suffix)")
    }
}
