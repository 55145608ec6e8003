import AmalgamCore

/// `model.safetensors.index.json`: which shard file holds each tensor.
struct ShardIndex {
    /// Tensor name -> shard file name, in the index's order.
    var weightMap: [(tensor: String, shard: String)]
    var metadata: Metadata

    static let suffix = ".safetensors.index.json"

    /// Parses and validates an index file: shard names must be plain file names.
    init(path: String) throws(AmalgamError) {
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

    init(weightMap: [(tensor: String, shard: String)], metadata: Metadata) {
        self.weightMap = weightMap
        self.metadata = metadata
    }

    /// A name with no folder part, not `.`/`..`, no NUL or backslash.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\")
            && !name.contains("\0")
    }

    /// The index document as Hugging Face writes it (weight_map sorted by tensor name).
    static func serialize(totalSize: Int, weightMap: [(tensor: String, shard: String)]) -> String {
        let sorted = weightMap.sorted { Array($0.tensor.utf8).lexicographicallyPrecedes(Array($1.tensor.utf8)) }
        let document = JSONValue.object([
            ("metadata", .object([("total_size", .integer(totalSize))])),
            ("weight_map", .object(sorted.map { ($0.tensor, JSONValue.string($0.shard)) })),
        ])
        return document.serialized(pretty: true) + "\n"
    }
}
