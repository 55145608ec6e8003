/// One member of a zip archive, as its central directory describes it (ZIP64 sizes and
/// offsets resolved), with the start of its data located through its local header.
public struct ZipEntry: Sendable {
    public var name: String
    public var method: UInt16
    public var flags: UInt16
    public var crc32: UInt32
    public var compressedSize: Int
    public var uncompressedSize: Int
    public var localHeaderOffset: Int
    public var dataOffset: Int
}
