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
        try file.write(
            Self.localHeader(
                name: nameBytes, method: method, crc32: crc32, compressedSize: compressedSize,
                uncompressedSize: uncompressedSize, large: large))
        for part in payload { try file.write(part) }
        written.append(
            Written(
                name: nameBytes, method: method, crc32: crc32, compressedSize: compressedSize,
                uncompressedSize: uncompressedSize, offset: offset))
    }

    /// A member whose header is written before its data is known: `finish` fills in the CRC
    /// and the compressed size, so the data can be streamed in blocks.
    struct OpenMember {
        fileprivate let name: [UInt8]
        fileprivate let method: UInt16
        fileprivate let uncompressedSize: Int
        fileprivate let offset: Int
        fileprivate let dataOffset: Int
        fileprivate let large: Bool
    }

    /// Writes the header of a member of `uncompressedSize` bytes whose stored bytes will not
    /// exceed `sizeBound` (which decides ZIP64 fields); its data follows in `file`.
    func begin(
        name: String, method: UInt16, uncompressedSize: Int, sizeBound: Int, into file: OutputFile
    ) throws(AmalgamError) -> OpenMember {
        let nameBytes = Array(name.utf8)
        let large = uncompressedSize >= zip64Threshold || sizeBound >= zip64Threshold
        let offset = file.position
        try file.write(
            Self.localHeader(
                name: nameBytes, method: method, crc32: 0, compressedSize: 0, uncompressedSize: uncompressedSize,
                large: large))
        return OpenMember(
            name: nameBytes, method: method, uncompressedSize: uncompressedSize, offset: offset,
            dataOffset: file.position, large: large)
    }

    /// Ends `member` once its data is written: the header gets `crc32` and the stored size.
    mutating func finish(_ member: OpenMember, crc32: UInt32, into file: OutputFile) throws(AmalgamError) {
        let compressedSize = file.position - member.dataOffset
        guard member.large || compressedSize < zip64Threshold else {
            throw AmalgamError(.internal, "zip member grew past its size bound")
        }
        try file.overwrite(
            at: member.offset,
            with: Self.localHeader(
                name: member.name, method: member.method, crc32: crc32, compressedSize: compressedSize,
                uncompressedSize: member.uncompressedSize, large: member.large))
        written.append(
            Written(
                name: member.name, method: member.method, crc32: crc32, compressedSize: compressedSize,
                uncompressedSize: member.uncompressedSize, offset: member.offset))
    }

    /// A local file header; with `large`, its sizes are in a ZIP64 extra field.
    private static func localHeader(
        name: [UInt8], method: UInt16, crc32: UInt32, compressedSize: Int, uncompressedSize: Int, large: Bool
    ) -> [UInt8] {
        var header: [UInt8] = le(UInt32(0x0403_4B50)) + le(UInt16(large ? 45 : 20))
        header += le(UInt16(utf8Flag(name))) + le(method) + le(UInt16(0)) + le(UInt16(0x21))
        header += le(crc32)
        header +=
            large
            ? le(UInt32.max) + le(UInt32.max)
            : le(UInt32(compressedSize)) + le(UInt32(uncompressedSize))
        let extra =
            large
            ? le(UInt16(1)) + le(UInt16(16)) + le(UInt64(uncompressedSize)) + le(UInt64(compressedSize)) : []
        header += le(UInt16(name.count)) + le(UInt16(extra.count)) + name + extra
        return header
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
