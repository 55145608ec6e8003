import AmalgamCore

/// Protobuf wire types (the low three bits of a field key).
enum WireType: UInt8 {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// One field as it sits in the bytes: its number, wire type, where the whole field starts
/// and, for length-delimited fields, where its payload is.
struct WireField {
    var number: UInt64
    var type: WireType
    /// Offset of the field's key.
    var start: Int
    /// The payload: the varint or fixed bytes, or a length-delimited field's contents.
    var payload: Range<Int>
    /// Offset just past the field.
    var end: Int { payload.upperBound }
}

/// Reads protobuf fields one at a time from untrusted bytes, checking every length
/// against the bytes that are there. Offsets are relative to `bytes` and reported through
/// `base` (the file offset of `bytes[0]`).
struct WireReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var position: Int
    let end: Int

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>, path: String) {
        self.bytes = bytes
        self.path = path
        self.position = range.lowerBound
        self.end = range.upperBound
    }

    var isAtEnd: Bool { position >= end }

    func error(_ message: String, at offset: Int) -> AmalgamError {
        AmalgamError(.invalidFormat, message, file: path, offset: UInt64(offset))
    }

    /// A base-128 varint of at most 10 bytes.
    mutating func varint() throws(AmalgamError) -> UInt64 {
        let start = position
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else {
                throw error("truncated protobuf: varint runs past the end of its message", at: start)
            }
            let byte = bytes[position]
            position += 1
            guard shift < 64, shift < 63 || byte <= 1 else {
                throw error("protobuf varint longer than 10 bytes", at: start)
            }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// The next field, with its payload bounds checked.
    mutating func field() throws(AmalgamError) -> WireField {
        let start = position
        let key = try varint()
        let number = key >> 3
        guard number != 0, number < (1 << 29) else {
            throw error("protobuf field number \(number) is out of range", at: start)
        }
        guard let type = WireType(rawValue: UInt8(key & 7)) else {
            throw error("unknown protobuf wire type \(key & 7) in field \(number)", at: start)
        }
        let payloadStart: Int
        let payloadCount: Int
        switch type {
        case .varint:
            payloadStart = position
            _ = try varint()
            payloadCount = position - payloadStart
            position = payloadStart
        case .fixed64:
            payloadStart = position
            payloadCount = 8
        case .fixed32:
            payloadStart = position
            payloadCount = 4
        case .lengthDelimited:
            let lengthOffset = position
            let length = try varint()
            payloadStart = position
            guard length <= UInt64(end - payloadStart) else {
                throw error(
                    "truncated protobuf: field \(number) claims \(length) bytes, \(end - payloadStart) remain",
                    at: lengthOffset)
            }
            payloadCount = Int(length)
        case .startGroup, .endGroup:
            throw AmalgamError(
                .unsupported, "protobuf groups (field \(number)) are not used by ONNX", file: path,
                offset: UInt64(start))
        }
        guard payloadCount <= end - payloadStart else {
            throw error("truncated protobuf: field \(number) runs past the end of its message", at: start)
        }
        position = payloadStart + payloadCount
        return WireField(
            number: number, type: type, start: start, payload: payloadStart..<(payloadStart + payloadCount))
    }

    /// The payload of a length-delimited field as UTF-8 text.
    func string(_ field: WireField) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[field.payload]), as: UTF8.self)
    }
}

/// Appends protobuf encodings to a byte array.
enum WireEncoding {
    static func varint(_ value: UInt64, into bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    static func varintSize(_ value: UInt64) -> Int {
        var size = 1
        var value = value >> 7
        while value != 0 {
            size += 1
            value >>= 7
        }
        return size
    }

    static func key(_ number: Int, _ type: WireType, into bytes: inout [UInt8]) {
        varint(UInt64(number) << 3 | UInt64(type.rawValue), into: &bytes)
    }
}

/// A protobuf message assembled for output: literal bytes, zero-copy slices of an input,
/// tensor payloads loaded only while they are written, and nested messages whose length
/// prefixes are computed from their parts. Sizes are known before anything is written, so
/// a model streams to disk one tensor at a time.
indirect enum ProtoPart {
    case bytes([UInt8])
    case slice(ByteRegion)
    /// A length-delimited field whose `count` payload bytes `load` takes from the graph
    /// being written (a tensor).
    case payload(field: Int, count: Int, load: (ModelGraph) throws -> ByteRegion)
    case message(field: Int, [ProtoPart])

    /// Encoded size in bytes.
    var size: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .slice(let region): region.count
        case .payload(let field, let count, _):
            WireEncoding.varintSize(UInt64(field) << 3) + WireEncoding.varintSize(UInt64(count)) + count
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
        case .payload(let field, let count, let load):
            var header: [UInt8] = []
            WireEncoding.key(field, .lengthDelimited, into: &header)
            WireEncoding.varint(UInt64(count), into: &header)
            try file.write(header)
            let region = try load(graph)
            guard region.count == count else {
                throw AmalgamError(.internal, "tensor payload holds \(region.count) bytes, \(count) were planned")
            }
            region.adviseSequentialRead()
            try file.write(region)
            advance(count)
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
