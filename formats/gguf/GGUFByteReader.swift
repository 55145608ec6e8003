import AmalgamCore

/// A bounds-checked little-endian cursor over a GGUF header. Every read that would pass the
/// end throws `.invalidFormat` naming what was being read and where.
struct GGUFByteReader {
    let region: ByteRegion
    let path: String
    private(set) var position = 0

    init(region: ByteRegion, path: String) {
        self.region = region
        self.path = path
    }

    var remaining: Int { region.count - position }

    func error(_ message: String, at offset: Int) -> AmalgamError {
        AmalgamError(.invalidFormat, message, file: path, offset: UInt64(offset))
    }

    mutating func bytes(_ count: Int) throws(AmalgamError) -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw error("truncated: needs \(count) bytes, \(remaining) left", at: position)
        }
        let slice = region.slice(offset: position, count: count).bytes
        position += count
        return slice
    }

    mutating func load<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws(AmalgamError) -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else {
            throw error("truncated while reading \(what): needs \(size) bytes, \(remaining) left", at: position)
        }
        let value = region.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: position, as: T.self)) }
        position += size
        return value
    }

    mutating func u32(_ what: String) throws(AmalgamError) -> UInt32 { try load(UInt32.self, what) }

    /// A u64 count of items each taking at least `minimumBytesEach` bytes: more than the
    /// bytes left could hold is an error, so no allocation follows a forged count.
    mutating func count(_ what: String, minimumBytesEach: Int) throws(AmalgamError) -> Int {
        let start = position
        let raw = try load(UInt64.self, what)
        guard raw <= UInt64(remaining / minimumBytesEach) else {
            throw error("\(what) \(raw) is more than the \(remaining) bytes left can hold", at: start)
        }
        return Int(raw)
    }

    mutating func string(_ what: String) throws(AmalgamError) -> String {
        let start = position
        let length = try load(UInt64.self, "length of \(what)")
        guard length <= UInt64(remaining) else {
            throw error("\(what) length \(length) runs past the end of the file (\(remaining) bytes left)", at: start)
        }
        let text = region.withUnsafeBytes { raw in
            String(
                validating: UnsafeRawBufferPointer(rebasing: raw[position..<(position + Int(length))]), as: UTF8.self)
        }
        guard let text else { throw error("\(what) is not valid UTF-8", at: start) }
        position += Int(length)
        return text
    }

    /// Minimum encoded size of one value of each type (strings: their u64 length).
    static func minimumSize(ofType type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: 1
        case 2, 3: 2
        case 4, 5, 6: 4
        case 8, 10, 11, 12: 8
        case 9: 4 + 8
        default: nil
        }
    }

    mutating func value(ofType type: UInt32, key: String, at typeOffset: Int) throws(AmalgamError) -> MetadataValue {
        switch type {
        case 0: return .u8(try load(UInt8.self, key))
        case 1: return .i8(try load(Int8.self, key))
        case 2: return .u16(try load(UInt16.self, key))
        case 3: return .i16(try load(Int16.self, key))
        case 4: return .u32(try load(UInt32.self, key))
        case 5: return .i32(try load(Int32.self, key))
        case 6: return .f32(Float(bitPattern: try load(UInt32.self, key)))
        case 7:
            let start = position
            let byte = try load(UInt8.self, key)
            guard byte <= 1 else { throw error("bool value \(byte) of '\(key)' is neither 0 nor 1", at: start) }
            return .bool(byte == 1)
        case 8: return .string(try string("value of '\(key)'"))
        case 10: return .u64(try load(UInt64.self, key))
        case 11: return .i64(try load(Int64.self, key))
        case 12: return .f64(Double(bitPattern: try load(UInt64.self, key)))
        case 9:
            let elementOffset = position
            let elementType = try u32("array element type of '\(key)'")
            guard elementType != 9 else {
                throw error("'\(key)' is an array of arrays, which GGUF does not allow", at: elementOffset)
            }
            guard let size = Self.minimumSize(ofType: elementType) else {
                throw error("unknown array element type \(elementType) in '\(key)'", at: elementOffset)
            }
            let count = try self.count("element count of '\(key)'", minimumBytesEach: size)
            var elements: [MetadataValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try value(ofType: elementType, key: key, at: elementOffset)) }
            return .array(elements)
        default:
            throw error("unknown value type \(type) for key '\(key)'", at: typeOffset)
        }
    }

    /// Reads one tensor info and validates it. With `log`, a fault found once all its fields
    /// are read is recorded and nil returned, so the next info can still be parsed.
    mutating func tensorInfo(name: String, log: FaultLog? = nil) throws(AmalgamError) -> GGUFTensorInfo? {
        let dimsOffset = position
        let dimensionCount = try u32("dimension count")
        guard dimensionCount >= 1, dimensionCount <= UInt32(GGUFFile.maximumDimensions) else {
            throw error("\(dimensionCount) dimensions (GGUF allows 1 to \(GGUFFile.maximumDimensions))", at: dimsOffset)
        }
        var extents: [(value: UInt64, offset: Int)] = []
        for axis in 0..<Int(dimensionCount) {
            let start = position
            extents.append((try load(UInt64.self, "ne[\(axis)]"), start))
        }
        let typeOffset = position
        let code = try u32("type")
        let offsetStart = position
        let offset = try load(UInt64.self, "data offset")

        func fault(_ message: String, at offset: Int) throws(AmalgamError) -> GGUFTensorInfo? {
            try log.report(error(message, at: offset).adding(tensor: name))
            return nil
        }
        var ne: [Int] = []
        var elements = 1
        for (axis, extent) in extents.enumerated() {
            guard extent.value <= UInt64(Int64.max) else {
                return try fault("ne[\(axis)] = \(extent.value) is negative as ggml's int64", at: extent.offset)
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(extent.value))
            guard !overflow else {
                return try fault("element count overflows at ne[\(axis)] = \(extent.value)", at: extent.offset)
            }
            elements = product
            ne.append(Int(extent.value))
        }
        guard let type = GGMLType(rawValue: code) else {
            return try fault("unknown or retired ggml type \(code)", at: typeOffset)
        }
        let (blockElements, blockBytes) = type.blockLayout
        guard ne[0] % blockElements == 0 else {
            return try fault(
                "ne[0] = \(ne[0]) is not a multiple of the \(type.name) block size \(blockElements)", at: typeOffset)
        }
        let (byteCount, overflow) = (elements / blockElements).multipliedReportingOverflow(by: blockBytes)
        guard !overflow else {
            return try fault("byte size of \(elements) \(type.name) elements overflows", at: typeOffset)
        }
        guard offset <= UInt64(region.count) else {
            return try fault(
                "data offset \(offset) is past the end of the file (\(region.count) bytes)", at: offsetStart)
        }
        return GGUFTensorInfo(name: name, ne: ne, type: type, offset: Int(offset), byteCount: byteCount)
    }
}
