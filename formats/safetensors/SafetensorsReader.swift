import AmalgamCore

/// Parses and validates one safetensors file. Every rule of the format is checked before
/// any tensor is exposed; tensor bytes are zero-copy slices of the memory-mapped file.
struct SafetensorsFile {
    /// Largest header the reference accepts.
    static let maximumHeaderBytes: UInt64 = 100_000_000

    let path: String
    let file: MappedFile
    /// Tensors in file (data offset) order.
    let tensors: [Tensor]
    let metadata: Metadata

    init(path: String) throws {
        self.path = path
        let file = try AmalgamError.withContext(file: path) { try MappedFile(path: path) }
        self.file = file
        (tensors, metadata) = try AmalgamError.withContext(file: path) { try SafetensorsFile.parse(file.region) }
    }

    private struct Entry {
        let name: String
        let dtype: DType
        let shape: Shape
        let begin: Int
        let end: Int
    }

    static func parse(_ region: ByteRegion) throws(AmalgamError) -> ([Tensor], Metadata) {
        let size = region.count
        guard size >= 8 else {
            throw AmalgamError(
                .invalidFormat, "file is \(size) bytes, too short for the 8-byte header length", offset: 0)
        }
        let headerLength = region.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard headerLength <= maximumHeaderBytes else {
            throw AmalgamError(
                .invalidFormat, "header length \(headerLength) exceeds the limit of \(maximumHeaderBytes) bytes",
                offset: 0)
        }
        guard 8 + Int(headerLength) <= size else {
            throw AmalgamError(
                .invalidFormat, "header length \(headerLength) runs past the end of the \(size)-byte file", offset: 0)
        }
        let headerEnd = 8 + Int(headerLength)
        let header = region.slice(offset: 8, count: Int(headerLength))
        let json: JSONValue
        do {
            json = try header.withUnsafeBytes { (bytes) throws(AmalgamError) -> JSONValue in
                guard bytes.first == UInt8(ascii: "{") else {
                    throw AmalgamError(.invalidFormat, "header does not start with '{'", offset: 0)
                }
                return try JSONParser.parse(bytes)
            }
        } catch {
            // Parser offsets are relative to the header, which starts at byte 8.
            var shifted = error
            shifted.context.offset = error.context.offset.map { $0 + 8 }
            shifted.message = "header: " + error.message
            throw shifted
        }
        guard let members = json.objectValue else {
            throw AmalgamError(.invalidFormat, "header is \(json.typeName), not a JSON object", offset: 8)
        }

        var metadata = Metadata()
        var entries: [Entry] = []
        entries.reserveCapacity(members.count)
        for (name, value) in members {
            if name == "__metadata__" {
                guard let pairs = value.objectValue else {
                    throw AmalgamError(
                        .invalidFormat, "__metadata__ is \(value.typeName), not an object of strings", offset: 8)
                }
                for (key, item) in pairs {
                    guard let text = item.stringValue else {
                        throw AmalgamError(
                            .invalidFormat, "__metadata__ value of '\(key)' is \(item.typeName), not a string",
                            offset: 8)
                    }
                    metadata[key] = .string(text)
                }
                continue
            }
            entries.append(try entry(name: name, value))
        }

        // Offsets must tile the data section exactly: sorted, no gaps, no overlaps.
        let dataSize = size - headerEnd
        let ordered = entries.enumerated().sorted {
            ($0.element.begin, $0.element.end, $0.offset) < ($1.element.begin, $1.element.end, $1.offset)
        }.map(\.element)
        var expected = 0
        for entry in ordered {
            if entry.begin != expected {
                let problem =
                    entry.begin > expected
                    ? "leaves a gap of \(entry.begin - expected) bytes before it" : "overlaps the tensor before it"
                throw AmalgamError(
                    .invalidFormat, "data_offsets [\(entry.begin), \(entry.end)] \(problem)", tensor: entry.name,
                    offset: UInt64(headerEnd + entry.begin))
            }
            guard entry.end <= dataSize else {
                throw AmalgamError(
                    .invalidFormat,
                    "data_offsets [\(entry.begin), \(entry.end)] run past the end of the data section (\(dataSize) bytes): file truncated?",
                    tensor: entry.name, offset: UInt64(headerEnd + entry.begin))
            }
            expected = entry.end
        }
        guard expected == dataSize else {
            throw AmalgamError(
                .invalidFormat, "\(dataSize - expected) trailing bytes after the last tensor",
                offset: UInt64(headerEnd + expected))
        }

        let tensors = ordered.map { entry in
            Tensor(
                name: entry.name, shape: entry.shape, encoding: .plain(entry.dtype),
                storage: .region(region.slice(offset: headerEnd + entry.begin, count: entry.end - entry.begin)))
        }
        return (tensors, metadata)
    }

    private static func entry(name: String, _ value: JSONValue) throws(AmalgamError) -> Entry {
        func fail(_ message: String) -> AmalgamError { AmalgamError(.invalidFormat, message, tensor: name, offset: 8) }
        guard value.objectValue != nil else { throw fail("entry is \(value.typeName), not an object") }
        guard let dtypeName = value["dtype"]?.stringValue else { throw fail("missing or non-string 'dtype'") }
        guard let dtype = SafetensorsDType.dtype(named: dtypeName) else {
            if SafetensorsDType.unsupportedNames.contains(dtypeName) {
                throw AmalgamError(
                    .unsupported, "dtype \(dtypeName) is not supported by Amalgam", tensor: name, offset: 8)
            }
            throw fail("unknown dtype '\(dtypeName)'")
        }
        guard let dims = value["shape"]?.arrayValue else { throw fail("missing or non-array 'shape'") }
        var dimensions: [UInt64] = []
        for dim in dims {
            guard let number = dim.uint64Value else {
                throw fail(
                    "shape \(JSONValue.array(dims).serialized()) holds something other than a non-negative integer")
            }
            dimensions.append(number)
        }
        guard let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
            let begin = offsets[0].uint64Value, let end = offsets[1].uint64Value
        else { throw fail("'data_offsets' must be two non-negative integers") }
        guard begin <= end else { throw fail("data_offsets [\(begin), \(end)] end before they begin") }
        guard end <= UInt64(Int.max) else { throw fail("data_offsets [\(begin), \(end)] are too large") }
        let shape: Shape
        let byteCount: Int
        do {
            shape = try Shape(checking: dimensions)
            byteCount = try shape.byteCount(elementBytes: dtype.byteWidth)
        } catch {
            throw error.adding(tensor: name, offset: 8)
        }
        guard UInt64(byteCount) == end - begin else {
            throw fail(
                "data_offsets [\(begin), \(end)] hold \(end - begin) bytes but \(dtypeName) \(shape) needs \(byteCount)"
            )
        }
        return Entry(name: name, dtype: dtype, shape: shape, begin: Int(begin), end: Int(end))
    }
}
