import AmalgamCore

/// Serialises a GGUF v3 header: magic, version, counts, metadata, tensor infos.
struct GGUFHeaderEncoder {
    private(set) var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ text: String) {
        append(UInt64(text.utf8.count))
        bytes.append(contentsOf: text.utf8)
    }

    static func typeCode(of value: MetadataValue) -> UInt32 {
        switch value {
        case .u8: 0
        case .i8: 1
        case .u16: 2
        case .i16: 3
        case .u32: 4
        case .i32: 5
        case .f32: 6
        case .bool: 7
        case .string: 8
        case .array: 9
        case .u64: 10
        case .i64: 11
        case .f64: 12
        }
    }

    mutating func appendValue(_ value: MetadataValue, key: String) throws(AmalgamError) {
        switch value {
        case .u8(let v): append(v)
        case .i8(let v): append(v)
        case .u16(let v): append(v)
        case .i16(let v): append(v)
        case .u32(let v): append(v)
        case .i32(let v): append(v)
        case .f32(let v): append(v.bitPattern)
        case .bool(let v): append(UInt8(v ? 1 : 0))
        case .string(let v): append(v)
        case .u64(let v): append(v)
        case .i64(let v): append(v)
        case .f64(let v): append(v.bitPattern)
        case .array(let elements):
            let type = elements.first.map(Self.typeCode) ?? 8
            guard type != 9 else {
                throw AmalgamError(.unsupported, "metadata '\(key)' is an array of arrays, which GGUF cannot store")
            }
            guard elements.allSatisfy({ Self.typeCode(of: $0) == type }) else {
                throw AmalgamError(
                    .unsupported, "metadata '\(key)' mixes element types, which a GGUF array cannot hold")
            }
            append(type)
            append(UInt64(elements.count))
            for element in elements { try appendValue(element, key: key) }
        }
    }

    mutating func encodeHeader(metadata: Metadata, tensors: [GGUFWriter.Planned], alignment: Int) throws(AmalgamError) {
        bytes.append(contentsOf: GGUFFile.magic)
        append(UInt32(3))
        append(UInt64(tensors.count))
        append(UInt64(metadata.count))
        for entry in metadata {
            append(entry.key)
            append(Self.typeCode(of: entry.value))
            try appendValue(entry.value, key: entry.key)
        }
        var offset = 0
        for item in tensors {
            append(item.name)
            append(UInt32(item.shape.dimensions.count))
            for extent in item.shape.dimensions.reversed() { append(UInt64(extent)) }
            append(item.type.rawValue)
            append(UInt64(offset))
            offset += item.byteCount + GGUFWriter.padding(item.byteCount, alignment)
        }
    }
}
