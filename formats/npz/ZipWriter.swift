import AmalgamCore

/// Writes a zip archive member by member into an `OutputFile`, then its central directory.
/// Timestamps are fixed (1980-01-01 00:00) so the same input gives the same bytes. ZIP64
/// fields are written for sizes and offsets at or above `zip64Threshold`.
struct ZipWriter {
    private struct Written {
        let name: [UInt8]
        let method: UInt16
        let crc32: UInt32
        let compressedSize: Int
        let uncompressedSize: Int
        let offset: Int
    }

    private var written: [Written] = []
    /// 0xFFFFFFFF per the format; tests lower it to exercise the ZIP64 path.
    let zip64Threshold: Int

    init(zip64Threshold: Int = 0xFFFF_FFFF) { self.zip64Threshold = zip64Threshold }

    private static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    /// Adds one member whose (already compressed, for deflate) bytes are `payload`.
    mutating func add(
        name: String, method: UInt16, crc32: UInt32, uncompressedSize: Int, payload: [UnsafeRawBufferPointer],
        into file: OutputFile
    ) throws(AmalgamError) {
        let compressedSize = payload.reduce(0) { $0 + $1.count }
        let offset = file.position
        let nameBytes = Array(name.utf8)
        let large = uncompressedSize >= zip64Threshold || compressedSize >= zip64Threshold
        var header: [UInt8] = Self.le(UInt32(0x0403_4B50)) + Self.le(UInt16(large ? 45 : 20))
        header +=
            Self.le(UInt16(Self.utf8Flag(nameBytes))) + Self.le(method) + Self.le(UInt16(0)) + Self.le(UInt16(0x21))
        header += Self.le(crc32)
        header +=
            large
            ? Self.le(UInt32.max) + Self.le(UInt32.max)
            : Self.le(UInt32(compressedSize)) + Self.le(UInt32(uncompressedSize))
        let extra =
            large
            ? Self.le(UInt16(1)) + Self.le(UInt16(16)) + Self.le(UInt64(uncompressedSize))
                + Self.le(UInt64(compressedSize)) : []
        header += Self.le(UInt16(nameBytes.count)) + Self.le(UInt16(extra.count)) + nameBytes + extra
        try file.write(header)
        for part in payload { try file.write(part) }
        written.append(
            Written(
                name: nameBytes, method: method, crc32: crc32, compressedSize: compressedSize,
                uncompressedSize: uncompressedSize, offset: offset))
    }

    private static func utf8Flag(_ name: [UInt8]) -> Int { name.contains { $0 >= 0x80 } ? 1 << 11 : 0 }

    /// Writes the central directory and end records.
    func finish(into file: OutputFile) throws(AmalgamError) {
        let directoryOffset = file.position
        for entry in written {
            var fields: [UInt8] = []
            let bigUncompressed = entry.uncompressedSize >= zip64Threshold
            let bigCompressed = entry.compressedSize >= zip64Threshold
            let bigOffset = entry.offset >= zip64Threshold
            if bigUncompressed { fields += Self.le(UInt64(entry.uncompressedSize)) }
            if bigCompressed { fields += Self.le(UInt64(entry.compressedSize)) }
            if bigOffset { fields += Self.le(UInt64(entry.offset)) }
            let extra = fields.isEmpty ? [] : Self.le(UInt16(1)) + Self.le(UInt16(fields.count)) + fields
            let zip64 = !fields.isEmpty
            var record: [UInt8] =
                Self.le(UInt32(0x0201_4B50)) + Self.le(UInt16(zip64 ? 45 : 20)) + Self.le(UInt16(zip64 ? 45 : 20))
            record +=
                Self.le(UInt16(Self.utf8Flag(entry.name))) + Self.le(entry.method) + Self.le(UInt16(0))
                + Self.le(UInt16(0x21))
            record += Self.le(entry.crc32)
            record += Self.le(bigCompressed ? UInt32.max : UInt32(entry.compressedSize))
            record += Self.le(bigUncompressed ? UInt32.max : UInt32(entry.uncompressedSize))
            record += Self.le(UInt16(entry.name.count)) + Self.le(UInt16(extra.count)) + Self.le(UInt16(0))
            record += Self.le(UInt16(0)) + Self.le(UInt16(0)) + Self.le(UInt32(0o100644 << 16))
            record += Self.le(bigOffset ? UInt32.max : UInt32(entry.offset))
            try file.write(record + entry.name + extra)
        }
        let directorySize = file.position - directoryOffset
        let needs64 = written.count >= 0xFFFF || directorySize >= zip64Threshold || directoryOffset >= zip64Threshold
        if needs64 {
            let recordOffset = file.position
            var record: [UInt8] =
                Self.le(UInt32(0x0606_4B50)) + Self.le(UInt64(44)) + Self.le(UInt16(45)) + Self.le(UInt16(45))
            record +=
                Self.le(UInt32(0)) + Self.le(UInt32(0)) + Self.le(UInt64(written.count))
                + Self.le(UInt64(written.count))
            record += Self.le(UInt64(directorySize)) + Self.le(UInt64(directoryOffset))
            record +=
                Self.le(UInt32(0x0706_4B50)) + Self.le(UInt32(0)) + Self.le(UInt64(recordOffset)) + Self.le(UInt32(1))
            try file.write(record)
        }
        var end: [UInt8] = Self.le(UInt32(0x0605_4B50)) + Self.le(UInt16(0)) + Self.le(UInt16(0))
        let count = needs64 ? UInt16.max : UInt16(written.count)
        end += Self.le(count) + Self.le(count)
        end +=
            Self.le(needs64 ? UInt32.max : UInt32(directorySize))
            + Self.le(needs64 ? UInt32.max : UInt32(directoryOffset))
        end += Self.le(UInt16(0))
        try file.write(end)
    }
}
