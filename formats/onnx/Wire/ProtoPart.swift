import AmalgamCore

/// A protobuf message assembled for output: literal bytes, zero-copy slices of an input,
/// tensor payloads loaded only while they are written, and nested messages whose length
/// prefixes are computed from their parts. Sizes are known before anything is written, so
/// a model streams to disk one tensor at a time.
indirect enum ProtoPart {
    case bytes([UInt8])
    case slice(ByteRegion)
    /// A length-delimited field holding a tensor's bytes, streamed from the graph being
    /// written (`ONNXPayload`).
    case payload(field: Int, ONNXPayload)
    case message(field: Int, [ProtoPart])

    /// Encoded size in bytes.
    var size: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .slice(let region): region.count
        case .payload(let field, let payload):
            WireEncoding.varintSize(UInt64(field) << 3) + WireEncoding.varintSize(UInt64(payload.count)) + payload.count
        case .message(let field, let parts):
            Self.fieldSize(field: field, contents: parts.reduce(0) { $0 + $1.size })
        }
    }

    static func fieldSize(field: Int, contents: Int) -> Int {
        WireEncoding.varintSize(UInt64(field) << 3) + WireEncoding.varintSize(UInt64(contents)) + contents
    }

    /// Writes the part, tensors taken from `graph`; `advance` receives the number of payload
    /// bytes after each tensor.
    func emit(into file: OutputFile, graph: ModelGraph, advance: (Int) -> Void) throws {
        switch self {
        case .bytes(let bytes): try file.write(bytes)
        case .slice(let region): try file.write(region)
        case .payload(let field, let payload):
            var header: [UInt8] = []
            WireEncoding.key(field, .lengthDelimited, into: &header)
            WireEncoding.varint(UInt64(payload.count), into: &header)
            try file.write(header)
            try payload.write(from: graph, into: file, advance: advance)
        case .message(let field, let parts):
            var header: [UInt8] = []
            WireEncoding.key(field, .lengthDelimited, into: &header)
            WireEncoding.varint(UInt64(parts.reduce(0) { $0 + $1.size }), into: &header)
            try file.write(header)
            for part in parts { try part.emit(into: file, graph: graph, advance: advance) }
        }
    }
}

/// Builders for the literal fields of output messages.
extension ProtoPart {
    static func varintField(_ number: Int, _ value: UInt64) -> ProtoPart {
        var bytes: [UInt8] = []
        WireEncoding.key(number, .varint, into: &bytes)
        WireEncoding.varint(value, into: &bytes)
        return .bytes(bytes)
    }

    static func bytesField(_ number: Int, _ payload: [UInt8]) -> ProtoPart {
        var bytes: [UInt8] = []
        WireEncoding.key(number, .lengthDelimited, into: &bytes)
        WireEncoding.varint(UInt64(payload.count), into: &bytes)
        bytes.append(contentsOf: payload)
        return .bytes(bytes)
    }

    static func stringField(_ number: Int, _ text: String) -> ProtoPart { bytesField(number, Array(text.utf8)) }
}
