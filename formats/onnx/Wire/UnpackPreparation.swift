import AmalgamCore
import CONNXProto
import CProtobufC

/// Makes untrusted ONNX bytes safe and cheap to hand to protobuf-c.
///
/// protobuf-c has no recursion limit and copies every `bytes` field. Before unpacking, this
/// walks the whole message tree along the schema (the generated descriptors), so that
/// - every field's key, wire type and length is checked against the bytes that are there
///   (errors carry the file offset);
/// - nesting deeper than `maximumDepth` messages is refused before protobuf-c recurses;
/// - each `TensorProto.raw_data` is replaced by a 16-byte marker field holding its file
///   offset and length, so the unpacked model holds no tensor data and the tensors are
///   mapped from the file instead.
///
/// The prepared buffer uses fixed five-byte length prefixes (a valid, non-minimal varint
/// encoding) so nested messages can be rewritten in one pass; it is never written out.
struct UnpackPreparation {
    /// Deeper nesting is refused (real models nest a few levels per subgraph).
    static let maximumDepth = 64
    /// The field number that carries a stripped raw_data's location inside a TensorProto.
    static let rawDataMarkerField: UInt64 = (1 << 29) - 1
    /// `TensorProto.raw_data`.
    static let rawDataField: UInt64 = 9

    let bytes: UnsafeRawBufferPointer
    let path: String
    private let tensorDescriptor = amalgam_onnx_tensor_descriptor()!
    private(set) var output: [UInt8] = []
    /// Total raw_data bytes left in the file rather than copied.
    private(set) var strippedBytes = 0

    /// Prepares the ModelProto in `bytes` (a whole file).
    init(bytes: UnsafeRawBufferPointer, path: String) throws(AmalgamError) {
        self.bytes = bytes
        self.path = path
        output.reserveCapacity(min(bytes.count, 1 << 20))
        try rewrite(0..<bytes.count, descriptor: amalgam_onnx_model_descriptor()!, depth: 1)
    }

    private mutating func rewrite(
        _ range: Range<Int>, descriptor: UnsafePointer<ProtobufCMessageDescriptor>, depth: Int
    ) throws(AmalgamError) {
        guard depth <= Self.maximumDepth else {
            throw AmalgamError(
                .invalidFormat, "protobuf messages nest deeper than \(Self.maximumDepth) levels",
                file: path, offset: UInt64(range.lowerBound))
        }
        let isTensor = descriptor == tensorDescriptor
        var reader = WireReader(bytes, range: range, path: path)
        while !reader.isAtEnd {
            let field = try reader.field()
            if isTensor, field.number == Self.rawDataMarkerField {
                throw reader.error("TensorProto uses field \(field.number), which Amalgam reserves", at: field.start)
            }
            let schema = protobuf_c_message_descriptor_get_field(descriptor, UInt32(field.number))
            if let schema, schema.pointee.type == PROTOBUF_C_TYPE_MESSAGE {
                guard field.type == .lengthDelimited else {
                    throw reader.error(
                        "field \(field.number) (\(String(cString: schema.pointee.name))) should be a message, has wire type \(field.type.rawValue)",
                        at: field.start)
                }
                WireEncoding.key(Int(field.number), .lengthDelimited, into: &output)
                let lengthPosition = output.count
                output.append(contentsOf: [0x80, 0x80, 0x80, 0x80, 0x00])
                let child = schema.pointee.descriptor.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
                try rewrite(field.payload, descriptor: child, depth: depth + 1)
                let length = output.count - lengthPosition - 5
                guard length < (1 << 31) else {
                    throw AmalgamError(
                        .overflow, "a message exceeds protobuf's 2 GiB limit", file: path, offset: UInt64(field.start))
                }
                for index in 0..<5 {
                    let bits = UInt8((length >> (7 * index)) & 0x7F)
                    output[lengthPosition + index] = index < 4 ? bits | 0x80 : bits
                }
            } else if isTensor, field.number == Self.rawDataField, field.type == .lengthDelimited {
                WireEncoding.key(Int(Self.rawDataMarkerField), .lengthDelimited, into: &output)
                output.append(16)
                withUnsafeBytes(of: UInt64(field.payload.lowerBound).littleEndian) { output.append(contentsOf: $0) }
                withUnsafeBytes(of: UInt64(field.payload.count).littleEndian) { output.append(contentsOf: $0) }
                strippedBytes += field.payload.count
            } else {
                if let schema {
                    try Self.checkWireType(field, schema: schema.pointee, reader: reader)
                }
                output.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[field.start..<field.end]))
            }
        }
    }

    /// Refuses a known field whose wire type cannot encode its declared type.
    private static func checkWireType(_ field: WireField, schema: ProtobufCFieldDescriptor, reader: WireReader)
        throws(AmalgamError)
    {
        let expected: WireType
        switch schema.type {
        case PROTOBUF_C_TYPE_STRING, PROTOBUF_C_TYPE_BYTES: expected = .lengthDelimited
        case PROTOBUF_C_TYPE_FLOAT, PROTOBUF_C_TYPE_FIXED32, PROTOBUF_C_TYPE_SFIXED32: expected = .fixed32
        case PROTOBUF_C_TYPE_DOUBLE, PROTOBUF_C_TYPE_FIXED64, PROTOBUF_C_TYPE_SFIXED64: expected = .fixed64
        default: expected = .varint
        }
        // Repeated scalars may also come packed (length-delimited).
        if field.type == expected || (schema.label == PROTOBUF_C_LABEL_REPEATED && field.type == .lengthDelimited) {
            return
        }
        throw reader.error(
            "field \(field.number) (\(String(cString: schema.name))) has wire type \(field.type.rawValue), expected \(expected.rawValue)",
            at: field.start)
    }
}
