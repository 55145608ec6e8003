import AmalgamCore

/// The importance values of one tensor: for each expert (one slice for ordinary matrices),
/// one non-negative value per column, the mean squared activation that column met.
struct ImportanceWeights: Sendable, Equatable {
    let values: [Float]
    let rowLength: Int
    var experts: Int { values.count / rowLength }
}

/// An importance matrix as llama-imatrix writes it, read and normalised as llama-quantize
/// reads it (`--imatrix`): the GGUF format (`NAME.in_sum2` and `NAME.counts` F32 tensors per
/// matrix, `imatrix.datasets`, `imatrix.chunk_count`, `imatrix.chunk_size`), each sum divided by
/// its expert's count (1 where the count is 0); or the legacy `.dat` format (an i32 entry count;
/// per entry an i32 name length, the name, i32 call count, i32 value count, the f32 values;
/// optionally the chunk count and the dataset name), values divided by the call count.
struct ImportanceMatrix: Sendable {
    let path: String
    /// Normalised values by GGUF tensor name.
    let entries: [String: [Float]]
    let datasets: [String]
    let chunkCount: Int

    init(path: String) throws {
        self.path = path
        var entries: [String: [Float]]
        var datasets: [String]
        var chunkCount: Int
        // One map of the file either way: GGUFFile maps its own.
        if SystemCall.readPrefix(of: path, count: 4) == GGUFFile.magic {
            (entries, datasets, chunkCount) = try Self.readGGUF(path)
        } else {
            (entries, datasets, chunkCount) = try Self.readLegacy(try MappedFile(path: path).region, path: path)
        }
        for (name, values) in entries {
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw AmalgamError(
                    .invalidFormat,
                    "importance value \(bad) is \(values[bad]) (llama-quantize refuses non-finite values)",
                    file: path, tensor: name)
            }
        }
        self.entries = entries
        self.datasets = datasets
        self.chunkCount = chunkCount
    }

    /// The GGUF format, normalised by the per-expert counts.
    static func readGGUF(_ path: String) throws -> ([String: [Float]], [String], Int) {
        let file = try AmalgamError.withContext(file: path) { try GGUFFile(path: path) }
        let keys = ["imatrix.datasets", "imatrix.chunk_count", "imatrix.chunk_size"]
        guard keys.allSatisfy({ file.metadata[$0] != nil }) else {
            let missing = keys.filter { file.metadata[$0] == nil }
            throw AmalgamError(
                .invalidFormat,
                "not an importance matrix: no \(missing.joined(separator: ", ")) (llama-imatrix writes them; llama-quantize refuses a file without)",
                file: path)
        }
        var datasets: [String] = []
        if case .array(let items) = file.metadata["imatrix.datasets"]! { datasets = items.compactMap(\.stringValue) }
        let chunkCount = file.metadata["imatrix.chunk_count"]?.intValue ?? 0
        var pairs: [String: (sums: GGUFTensorInfo?, counts: GGUFTensorInfo?)] = [:]
        for info in file.tensors {
            if info.name.hasSuffix(".in_sum2") {
                pairs[String(info.name.dropLast(8)), default: (nil, nil)].sums = info
            } else if info.name.hasSuffix(".counts") {
                pairs[String(info.name.dropLast(7)), default: (nil, nil)].counts = info
            }
        }
        guard !pairs.isEmpty else {
            throw AmalgamError(
                .invalidFormat, "the importance matrix holds no NAME.in_sum2 / NAME.counts tensors", file: path)
        }
        var entries: [String: [Float]] = [:]
        for (name, pair) in pairs {
            guard let sums = pair.sums, let counts = pair.counts else {
                throw AmalgamError(
                    .invalidFormat,
                    "\(pair.sums == nil ? "\(name).counts has no \(name).in_sum2" : "\(name).in_sum2 has no \(name).counts")",
                    file: path, tensor: name)
            }
            guard sums.type == .f32, counts.type == .f32 else {
                throw AmalgamError(
                    .invalidFormat, "sums and counts must be F32, not \(sums.type.name) and \(counts.type.name)",
                    file: path,
                    tensor: name)
            }
            let sumValues = Self.floats(file.region(of: sums))
            let countValues = Self.floats(file.region(of: counts))
            guard !countValues.isEmpty, !sumValues.isEmpty, sumValues.count % countValues.count == 0 else {
                throw AmalgamError(
                    .invalidFormat,
                    "\(sumValues.count) sums do not split into \(countValues.count) experts' equal slices", file: path,
                    tensor: name)
            }
            let columns = sumValues.count / countValues.count
            var values = [Float](repeating: 1, count: sumValues.count)
            for (expert, rawCount) in countValues.enumerated() {
                // llama.cpp rounds the stored counts to integers (lround) before dividing.
                let count = rawCount.rounded()
                guard count > 0 else { continue }
                for i in 0..<columns { values[expert * columns + i] = sumValues[expert * columns + i] / count }
            }
            entries[name] = values
        }
        return (entries, datasets, chunkCount)
    }

    /// The legacy format: values already divided by the counts and multiplied by the call count.
    static func readLegacy(_ region: ByteRegion, path: String) throws(AmalgamError) -> (
        [String: [Float]], [String], Int
    ) {
        var reader = GGUFByteReader(region: region, path: path)
        let count = try reader.load(
            Int32.self, "the entry count of an importance matrix (not GGUF, so the legacy .dat format)")
        guard count >= 1 else {
            throw reader.error("importance matrix with \(count) entries (legacy .dat format)", at: 0)
        }
        var entries: [String: [Float]] = [:]
        for entry in 0..<Int(count) {
            let start = reader.position
            let length = try reader.load(Int32.self, "the name length of entry \(entry + 1)")
            guard length >= 0, Int(length) <= reader.remaining else {
                throw reader.error("entry \(entry + 1): name length \(length) runs past the end of the file", at: start)
            }
            let name = String(decoding: try reader.bytes(Int(length)), as: UTF8.self)
            let calls = try reader.load(Int32.self, "the call count of '\(name)'")
            let valuesOffset = reader.position
            let valueCount = try reader.load(Int32.self, "the value count of '\(name)'")
            guard valueCount >= 1, Int(valueCount) <= reader.remaining / 4 else {
                let problem =
                    valueCount < 1
                    ? "value count \(valueCount) (must be at least 1)"
                    : "\(valueCount) values declared, but \(reader.remaining) bytes are left (truncated file?)"
                throw AmalgamError(.invalidFormat, problem, file: path, tensor: name, offset: UInt64(valuesOffset))
            }
            let bytes = try reader.bytes(Int(valueCount) * 4)
            var values = bytes.withUnsafeBytes { raw in
                (0..<Int(valueCount)).map {
                    Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
                }
            }
            if calls > 0 { values = values.map { $0 / Float(calls) } }
            entries[name] = values
        }
        // Optional trailer: the chunk count, then the dataset's name.
        var chunkCount = 0
        var datasets: [String] = []
        if reader.remaining >= 4 {
            chunkCount = Int(try reader.load(Int32.self, "the chunk count"))
            if reader.remaining >= 4 {
                let length = try reader.load(Int32.self, "the dataset name length")
                if length > 0, Int(length) <= reader.remaining {
                    datasets.append(String(decoding: try reader.bytes(Int(length)), as: UTF8.self))
                }
            }
        }
        return (entries, datasets, chunkCount)
    }

    static func floats(_ region: ByteRegion) -> [Float] {
        region.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
            }
        }
    }

    /// The weights for the GGUF tensor `name` whose rows are `rowLength` long, `experts`
    /// matrices deep; nil when the matrix has no entry for it (llama-quantize then quantises
    /// without). An entry of another size is an error, except for the token embedding, which
    /// is then quantised without (as llama-quantize does).
    func weights(for name: String, rowLength: Int, experts: Int) throws(AmalgamError) -> ImportanceWeights? {
        guard let values = entries[name] else { return nil }
        guard values.count == rowLength * experts else {
            if name == "token_embd.weight" { return nil }
            throw AmalgamError(
                .invalidFormat,
                "importance matrix has \(values.count) values for \(name), which has \(rowLength * experts) columns\(experts > 1 ? " over \(experts) experts" : "")",
                file: path, tensor: name)
        }
        return ImportanceWeights(values: values, rowLength: rowLength)
    }

    /// The keys llama-quantize records in a file it quantised with an importance matrix
    /// (strings cut to 127 bytes, as it copies them).
    var metadata: [(key: String, value: MetadataValue)] {
        func cut(_ text: String) -> String { String(decoding: Array(text.utf8.prefix(127)), as: UTF8.self) }
        var keys: [(String, MetadataValue)] = [("quantize.imatrix.file", .string(cut(path)))]
        if let first = datasets.first { keys.append(("quantize.imatrix.dataset", .string(cut(first)))) }
        keys.append(("quantize.imatrix.entries_count", .u32(UInt32(entries.count))))
        if chunkCount > 0 { keys.append(("quantize.imatrix.chunks_count", .u32(UInt32(chunkCount)))) }
        return keys
    }
}
