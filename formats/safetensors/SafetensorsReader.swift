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

    /// Every fault of the file at `path` (and, when strict, every departure from the
    /// reference writer: data not aligned for its dtype, entries out of data order).
    static func audit(path: String, strict: Bool) -> FileAudit {
        FaultLog.audit(path, strict: strict) { log in _ = try parse(try MappedFile(path: path).region, log: log) }
    }

    private struct Entry {
        let name: String
        let dtype: DType
        let shape: Shape
        let begin: Int
        let end: Int
    }

    /// Parses the header; with `log`, faults past which parsing can go on are recorded
    /// there instead of thrown.
    static func parse(_ region: ByteRegion, log: FaultLog? = nil) throws(AmalgamError) -> ([Tensor], Metadata) {
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
        var spans: [(name: String, begin: Int, end: Int)] = []
        for (name, value) in members {
            if name == "__metadata__" {
                guard let pairs = value.objectValue else {
                    try log.report(
                        AmalgamError(
                            .invalidFormat, "__metadata__ is \(value.typeName), not an object of strings", offset: 8))
                    continue
                }
                for (key, item) in pairs {
                    guard let text = item.stringValue else {
                        try log.report(
                            AmalgamError(
                                .invalidFormat, "__metadata__ value of '\(key)' is \(item.typeName), not a string",
                                offset: 8))
                        continue
                    }
                    metadata[key] = .string(text)
                }
                continue
            }
            do {
                let valid = try entry(name: name, value)
                entries.append(valid)
                spans.append((name, valid.begin, valid.end))
            } catch {
                try log.report(error)
                // A faulty entry's bytes still take their place in the tiling, so its
                // neighbours are not blamed for a gap.
                if let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2,
                    let begin = offsets[0].uint64Value, let end = offsets[1].uint64Value, begin <= end,
                    end <= UInt64(Int.max)
                {
                    spans.append((name, Int(begin), Int(end)))
                }
            }
        }

        // Offsets must tile the data section exactly: sorted, no gaps, no overlaps.
        let dataSize = size - headerEnd
        let ordered = spans.enumerated().sorted {
            ($0.element.begin, $0.element.end, $0.offset) < ($1.element.begin, $1.element.end, $1.offset)
        }.map(\.element)
        var expected = 0
        for entry in ordered {
            if entry.begin != expected {
                let problem =
                    entry.begin > expected
                    ? "leaves a gap of \(entry.begin - expected) bytes before it" : "overlaps the tensor before it"
                try log.report(
                    AmalgamError(
                        .invalidFormat, "data_offsets [\(entry.begin), \(entry.end)] \(problem)", tensor: entry.name,
                        offset: UInt64(headerEnd + entry.begin)))
            }
            if entry.end > dataSize {
                try log.report(
                    AmalgamError(
                        .invalidFormat,
                        "data_offsets [\(entry.begin), \(entry.end)] run past the end of the data section (\(dataSize) bytes): file truncated?",
                        tensor: entry.name, offset: UInt64(headerEnd + entry.begin)))
            }
            expected = max(expected, entry.end)
        }
        if expected < dataSize {
            try log.report(
                AmalgamError(
                    .invalidFormat, "\(dataSize - expected) trailing bytes after the last tensor",
                    offset: UInt64(headerEnd + expected)))
        }
        if let log {
            if log.strict { departures(entries, headerEnd: headerEnd, log: log) }
            return ([], metadata)
        }

        let inDataOrder = entries.enumerated().sorted {
            ($0.element.begin, $0.element.end, $0.offset) < ($1.element.begin, $1.element.end, $1.offset)
        }.map(\.element)
        let tensors = inDataOrder.map { entry in
            Tensor(
                name: entry.name, shape: entry.shape, encoding: .plain(entry.dtype),
                storage: .region(region.slice(offset: headerEnd + entry.begin, count: entry.end - entry.begin)))
        }
        return (tensors, metadata)
    }

    /// What readers accept but the reference writer never writes: a data section or a
    /// tensor not aligned for its dtype, entries listed out of data order.
    private static func departures(_ entries: [Entry], headerEnd: Int, log: FaultLog) {
        if headerEnd % 8 != 0 {
            log.depart(
                AmalgamError(
                    .invalidFormat, "data section starts at byte \(headerEnd), not a multiple of 8 (header not padded)",
                    offset: 0))
        }
        for entry in entries where (headerEnd + entry.begin) % max(1, entry.dtype.byteWidth) != 0 {
            log.depart(
                AmalgamError(
                    .invalidFormat,
                    "data at byte \(headerEnd + entry.begin) is not aligned to its \(entry.dtype.byteWidth)-byte elements",
                    tensor: entry.name, offset: UInt64(headerEnd + entry.begin)))
        }
        for (previous, entry) in zip(entries, entries.dropFirst()) where entry.begin < previous.begin {
            log.depart(
                AmalgamError(
                    .invalidFormat,
                    "listed after '\(previous.name)' in the header but stored before it (header keys out of data order)",
                    tensor: entry.name, offset: 8))
        }
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
