import AmalgamCore

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
