import AmalgamCore

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
