/// A sharded checkpoint's index (`model.safetensors.index.json`, `pytorch_model.bin.index.json`):
/// which shard file holds each tensor.
public struct ShardIndex: Sendable {
    /// Tensor name -> shard file name, in the index's order.
    public var weightMap: [(tensor: String, shard: String)]
    public var metadata: Metadata

    /// Parses and validates an index file: shard names must be plain file names.
    public init(path: String) throws(AmalgamError) {
        let file = try MappedFile(path: path)
        let json = try file.region.withUnsafeBytes { (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }
        guard let map = json["weight_map"]?.objectValue else {
            throw AmalgamError(.invalidFormat, "index has no \"weight_map\" object", file: path)
        }
        weightMap = []
        for (tensor, value) in map {
            guard let shard = value.stringValue else {
                throw AmalgamError(
                    .invalidFormat, "weight_map value is \(value.typeName), not a file name", file: path, tensor: tensor
                )
            }
            guard ShardIndex.isPlainFileName(shard) else {
                throw AmalgamError(
                    .invalidFormat, "weight_map names '\(shard)', which is not a plain file name in the index's folder",
                    file: path, tensor: tensor)
            }
            weightMap.append((tensor, shard))
        }
        metadata = Metadata()
        if let extra = json["metadata"]?.objectValue {
            for (key, value) in extra where key != "total_size" {
                metadata[key] = .string(value.stringValue ?? value.serialized())
            }
        }
    }

    public init(weightMap: [(tensor: String, shard: String)], metadata: Metadata) {
        self.weightMap = weightMap
        self.metadata = metadata
    }

    /// A name with no folder part, not `.`/`..`, no NUL or backslash.
    public static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\")
            && !name.contains("\0")
    }

    /// The index document as Hugging Face writes it (weight_map sorted by tensor name).
    public static func serialize(totalSize: Int, weightMap: [(tensor: String, shard: String)]) -> String {
        let sorted = weightMap.sorted { Array($0.tensor.utf8).lexicographicallyPrecedes(Array($1.tensor.utf8)) }
        let document = JSONValue.object([
            ("metadata", .object([("total_size", .integer(totalSize))])),
            ("weight_map", .object(sorted.map { ($0.tensor, JSONValue.string($0.shard)) })),
        ])
        return document.serialized(pretty: true) + "\n"
    }

    /// The tensors and metadata of the sharded checkpoint whose index is at `indexPath`, each
    /// shard read by `readShard` in name order: every tensor must be in the shard the index
    /// names, and every tensor the index lists must be found.
    public static func readShards(
        indexPath: String, readShard: (String) throws -> (tensors: [Tensor], metadata: Metadata)
    ) throws -> (tensors: [Tensor], metadata: Metadata) {
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
            let contents = try AmalgamError.withContext(file: shardPath) { try readShard(shardPath) }
            for tensor in contents.tensors {
                guard expected[tensor.name] == shard else {
                    let listed =
                        expected[tensor.name].map { "the index places it in '\($0)'" } ?? "the index does not list it"
                    throw AmalgamError(
                        .invalidFormat, "shard holds this tensor but \(listed)", file: shardPath, tensor: tensor.name)
                }
                expected[tensor.name] = nil
                tensors.append(tensor)
            }
            for entry in contents.metadata where metadata[entry.key] == nil { metadata[entry.key] = entry.value }
        }
        if let (missing, shard) = index.weightMap.first(where: { expected[$0.tensor] != nil }) {
            throw AmalgamError(
                .invalidFormat, "index lists this tensor in '\(shard)', but the shard lacks it", file: indexPath,
                tensor: missing)
        }
        for entry in index.metadata where metadata[entry.key] == nil { metadata[entry.key] = entry.value }
        return (tensors, metadata)
    }
}
