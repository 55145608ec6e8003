import AmalgamCore

/// One member of a zip archive, as its central directory describes it (ZIP64 sizes and
/// offsets resolved), with the start of its data located through its local header.
struct ZipEntry {
    var name: String
    var method: UInt16
    var flags: UInt16
    var crc32: UInt32
    var compressedSize: Int
    var uncompressedSize: Int
    var localHeaderOffset: Int
    var dataOffset: Int
}
