import AmalgamCore

/// Writes safetensors files byte-identical to the reference writer for the same tensors
/// and metadata: tensors sorted by dtype rank (descending) then name (bytewise), compact
/// JSON header, metadata keys sorted, header padded with spaces to a multiple of 8.
enum SafetensorsWriter {
    /// One output file's worth of tensors.
    struct Shard {
        var tensors: [(tensor: Tensor, dtype: DType, byteCount: Int)] = []
        var dataBytes = 0
    }

    /// Checks every tensor is storable and computes its size, in graph order.
    static func plan(_ graph: ModelGraph) throws(AmalgamError) -> [(tensor: Tensor, dtype: DType, byteCount: Int)] {
        var planned: [(tensor: Tensor, dtype: DType, byteCount: Int)] = []
        for tensor in graph.tensors {
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
            planned.append((tensor, dtype, try tensor.byteCount))
        }
        return planned
    }

    /// Splits tensors, in graph order, into shards of at most `limit` data bytes (a tensor
    /// larger than the limit gets a shard of its own), like Hugging Face's splitter.
    static func split(_ planned: [(tensor: Tensor, dtype: DType, byteCount: Int)], limit: Int?) -> [Shard] {
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
    static func header(for shard: Shard, metadata: Metadata?) -> (
        bytes: [UInt8], order: [(tensor: Tensor, dtype: DType, byteCount: Int)]
    ) {
        let order = shard.tensors.sorted { left, right in
            let (l, r) = (SafetensorsDType.rank(of: left.dtype), SafetensorsDType.rank(of: right.dtype))
            if l != r { return l > r }
            return Array(left.tensor.name.utf8).lexicographicallyPrecedes(Array(right.tensor.name.utf8))
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
                    item.tensor.name,
                    .object([
                        ("dtype", .string(SafetensorsDType.name(of: item.dtype))),
                        ("shape", .array(item.tensor.shape.dimensions.map { .integer($0) })),
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

    /// Streams one shard into `file`, loading each tensor once.
    static func write(_ shard: Shard, metadata: Metadata?, into file: OutputFile, progress: any ProgressReporter) throws
    {
        let (header, order) = header(for: shard, metadata: metadata)
        try file.write(header)
        for item in order {
            let bytes = try AmalgamError.withContext(tensor: item.tensor.name) { try item.tensor.loadBytes() }
            bytes.adviseSequentialRead()
            try file.write(bytes)
            progress.advance(by: Int64(bytes.count))
        }
    }
}
