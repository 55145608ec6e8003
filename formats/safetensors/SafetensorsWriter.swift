import AmalgamCore

/// Serialises safetensors headers byte-identical to the reference writer for the same tensors
/// and metadata: tensors sorted by dtype rank (descending) then name (bytewise), compact
/// JSON header, metadata keys sorted, header padded with spaces to a multiple of 8.
enum SafetensorsWriter {
    /// One tensor to store: its position in the graph, dtype and size.
    struct Item {
        let index: Int
        let name: String
        let shape: Shape
        let dtype: DType
        let byteCount: Int
    }

    /// One output file's worth of tensors.
    struct Shard {
        var tensors: [Item] = []
        var dataBytes = 0
    }

    /// Checks every tensor is storable and computes its size, in graph order.
    static func plan(_ graph: ModelGraph) throws(AmalgamError) -> [Item] {
        var planned: [Item] = []
        for (index, tensor) in graph.tensors.enumerated() {
            guard let dtype = tensor.encoding.dtype else {
                throw AmalgamError(
                    .unsupported,
                    "is \(tensor.encoding)-quantised; safetensors stores plain dtypes: add --dtype f32, f16 or bf16 to decode it",
                    tensor: tensor.name)
            }
            guard dtype != .c128 else {
                throw AmalgamError(
                    .unsupported, "is complex128, which safetensors cannot store (it has C64 only)", tensor: tensor.name
                )
            }
            planned.append(
                Item(
                    index: index, name: tensor.name, shape: tensor.shape, dtype: dtype, byteCount: try tensor.byteCount)
            )
        }
        return planned
    }

    /// Splits tensors, in graph order, into shards of at most `limit` data bytes (a tensor
    /// larger than the limit gets a shard of its own), like Hugging Face's splitter.
    static func split(_ planned: [Item], limit: Int?) -> [Shard] {
        var shards: [Shard] = [Shard()]
        for item in planned {
            if let limit, !shards[shards.count - 1].tensors.isEmpty,
                shards[shards.count - 1].dataBytes + item.byteCount > limit
            {
                shards.append(Shard())
            }
            shards[shards.count - 1].tensors.append(item)
            shards[shards.count - 1].dataBytes += item.byteCount
        }
        return shards
    }

    /// The header bytes (length prefix included) for `shard`, and the tensors in data order.
    static func header(for shard: Shard, metadata: Metadata?) -> (bytes: [UInt8], order: [Item]) {
        let order = shard.tensors.sorted { left, right in
            let (l, r) = (SafetensorsDType.rank(of: left.dtype), SafetensorsDType.rank(of: right.dtype))
            if l != r { return l > r }
            return Array(left.name.utf8).lexicographicallyPrecedes(Array(right.name.utf8))
        }
        var members: [(key: String, value: JSONValue)] = []
        if let metadata {
            let pairs = metadata.entries.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            members.append(("__metadata__", .object(pairs.map { ($0.key, JSONValue.string($0.value.description)) })))
        }
        var offset = 0
        for item in order {
            members.append(
                (
                    item.name,
                    .object([
                        ("dtype", .string(SafetensorsDType.name(of: item.dtype))),
                        ("shape", .array(item.shape.dimensions.map { .integer($0) })),
                        ("data_offsets", .array([.integer(offset), .integer(offset + item.byteCount)])),
                    ])
                ))
            offset += item.byteCount
        }
        var json = Array(JSONValue.object(members).serialized().utf8)
        let padding = (8 - json.count % 8) % 8
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: json)
        return (bytes, order)
    }
}

extension SafetensorsPlugin {
    /// Arrays longer than this stay out of the string metadata (a GGUF vocabulary would
    /// bloat every shard's header; the tokenizer travels as tokenizer.json instead).
    static let maximumMetadataArrayLength = 1024

    /// Metadata of another format that describes its file, not these tensors: GGUF's file
    /// type, quantisation version, alignment and split records, its tokenizer keys (the
    /// tokenizer is written as tokenizer.json and tokenizer_config.json), ONNX's IR, opset and
    /// producer records. The architecture's hyper-parameters (`llama.block_count`...) stay:
    /// they are true of the tensors, and keep a file outside a Hugging Face folder readable.
    static func isSourceFormatKey(_ key: String) -> Bool {
        if ["general.file_type", "general.quantization_version", "general.alignment"].contains(key) { return true }
        return key.hasPrefix("tokenizer.") || key.hasPrefix("split.") || key.hasPrefix("onnx.")
    }

    /// The metadata a safetensors file of `graph` stores: `format = pt` (transformers requires
    /// it when there is metadata), the graph's own keys, less those of another format that no
    /// longer describe the data and arrays too long for a header.
    static func storableMetadata(_ graph: ModelGraph, warn: (String) -> Void) -> Metadata? {
        var metadata = Metadata()
        metadata["format"] = .string("pt")
        var dropped: [String] = []
        for entry in graph.metadata where !isSourceFormatKey(entry.key) {
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
