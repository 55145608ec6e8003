import AmalgamCore

/// NumPy `.npz` archives: one `.npy` member per array. Stored members are read zero-copy
/// from the memory map (their CRC-32 checked on load); deflated members are inflated with
/// zlib into a buffer of exactly the size their npy header implies.
///
/// bf16 and float8 have no numpy descr. By default they are written as f32 with a warning;
/// with the `keep-dtype` write option they are written as raw `<u2`/`|u1` bit patterns and
/// an `__amalgam_dtypes__.json` member records their true dtype, which reading honours.
public struct NPZPlugin: FormatReader, FormatWriter {
    public typealias Options = NPZWriterOptions

    public init() {}

    public var identifier: String { "npz" }
    public var displayName: String { "NumPy .npz" }
    public var fileExtensions: [String] { ["npz"] }

    static let dtypesMember = "__amalgam_dtypes__.json"

    /// A zip local header whose first member is a `.npy` or the dtype sidecar (or whose name
    /// runs past the prefix).
    public func sniff(_ prefix: [UInt8]) -> Bool {
        guard prefix.count >= 4, prefix[0] == 0x50, prefix[1] == 0x4B, prefix[2] == 3, prefix[3] == 4 else {
            return false
        }
        guard prefix.count >= 30 else { return true }
        let length = Int(prefix[26]) | Int(prefix[27]) << 8
        let visible = prefix[30...].prefix(length)
        guard visible.count == length else { return true }
        let name = String(decoding: visible, as: UTF8.self)
        return name.hasSuffix(".npy") || name == Self.dtypesMember
    }

    public func read(_ path: String, options: ReadOptions) throws -> ModelGraph {
        let file = try AmalgamError.withContext(file: path) { try MappedFile(path: path) }
        return try AmalgamError.withContext(file: path) { try Self.read(file.region) }
    }

    /// Every fault of each member (and, when strict, what numpy never writes) of the archive at `path`.
    public func audit(_ path: String, options: ReadOptions, strict: Bool) -> FileAudit {
        FaultLog.audit(path, strict: strict) { log in _ = try Self.read(try MappedFile(path: path).region, log: log) }
    }

    /// Reads the archive; with `log`, a member's fault is recorded there and the next member read.
    static func read(_ archive: ByteRegion, log: FaultLog? = nil) throws -> ModelGraph {
        let directory = try archive.withUnsafeBytes { (bytes) throws(AmalgamError) in try ZipDirectory(bytes) }
        var trueDTypes: [String: DType] = [:]
        if let sidecar = directory.entries.first(where: { $0.name == dtypesMember }) {
            trueDTypes = try readDTypes(try memberBytes(sidecar, in: archive, limit: 1 << 20))
        }
        var tensors: [Tensor] = []
        for entry in directory.entries where entry.name != dtypesMember {
            do {
                tensors.append(try tensor(for: entry, in: archive, trueDTypes: trueDTypes, log: log))
            } catch let error as AmalgamError {
                try log.report(error.adding(offset: UInt64(entry.localHeaderOffset)))
            }
        }
        if log != nil { return try ModelGraph(tensors: [], sourceFormat: "npz") }
        return try ModelGraph(tensors: tensors, sourceFormat: "npz")
    }

    private static func tensor(
        for entry: ZipEntry, in archive: ByteRegion, trueDTypes: [String: DType], log: FaultLog? = nil
    ) throws -> Tensor {
        guard entry.name.hasSuffix(".npy") else {
            throw AmalgamError(.unsupported, "member '\(entry.name)' is not a .npy array")
        }
        let key = String(entry.name.dropLast(4))
        try NPZKeys.validate(key)
        let header = try memberHeader(entry, in: archive)
        for departure in header.departures {
            log?.depart(
                AmalgamError(.invalidFormat, "member '\(entry.name)': \(departure)", offset: UInt64(entry.dataOffset)))
        }
        let dataBytes = try header.shape.byteCount(elementBytes: header.dtype.byteWidth)
        let expected = header.dataOffset + dataBytes
        guard entry.uncompressedSize == expected else {
            throw AmalgamError(
                .invalidFormat,
                "member '\(entry.name)': the archive records \(entry.uncompressedSize) bytes but its npy header (\(header.descr) \(header.shape)) implies \(expected)",
                offset: UInt64(entry.dataOffset))
        }
        // The member's bytes: a verified slice of the map, or inflated on demand.
        let member: TensorStorage
        let name = entry.name
        if entry.method == 0 {
            let slice = archive.slice(offset: entry.dataOffset, count: entry.compressedSize)
            let data = slice.slice(offset: header.dataOffset, count: dataBytes)
            member = .verified(data) { try checkCRC(slice, of: entry) }
        } else {
            member = .deferred {
                let whole = try memberBytes(entry, in: archive, limit: expected)
                return whole.slice(offset: header.dataOffset, count: dataBytes)
            }
        }
        var dtype = header.dtype
        if let recorded = trueDTypes[key] {
            guard recorded.byteWidth == dtype.byteWidth, !header.bigEndian, [.u8, .u16].contains(dtype) else {
                throw AmalgamError(
                    .invalidFormat,
                    "\(dtypesMember) says '\(key)' is \(recorded.rawValue), but it is stored as \(header.descr)")
            }
            dtype = recorded
        }
        let (canonicalName, transpose) = NPZKeys.canonical(key, rank: header.shape.rank)
        let shape = transpose ? Shape([header.shape.dimensions[1], header.shape.dimensions[0]]) : header.shape
        let storage = ArrayLayout.storage(
            dtype: dtype, shape: header.shape, bigEndian: header.bigEndian, fortranOrder: header.fortranOrder,
            transpose2D: transpose, load: member)
        return Tensor(name: canonicalName, originalName: key, shape: shape, encoding: .plain(dtype), storage: storage)
    }

    /// The npy header of a member: straight from the map, or from its first inflated bytes.
    /// Errors name the member, at its offset in the archive (inside a deflated member the
    /// member's start is given: offsets in the inflated bytes are not file offsets).
    private static func memberHeader(_ entry: ZipEntry, in archive: ByteRegion) throws(AmalgamError) -> NPYHeader {
        do {
            let header: NPYHeader
            let headerWindow = min(entry.uncompressedSize, 12 + NPYHeader.maximumDictBytes)
            if entry.method == 0 {
                header = try archive.slice(offset: entry.dataOffset, count: entry.compressedSize).withUnsafeBytes {
                    (bytes) throws(AmalgamError) in
                    try NPYHeader.parse(bytes)
                }
            } else {
                let start = OwnedBuffer(byteCount: headerWindow)
                _ = try archive.slice(offset: entry.dataOffset, count: entry.compressedSize).withUnsafeBytes {
                    (bytes) throws(AmalgamError) in
                    try Zlib.inflate(
                        bytes, into: UnsafeMutableRawBufferPointer(start: start.pointer, count: headerWindow),
                        partial: true
                    )
                }
                header = try start.region.withUnsafeBytes { (bytes) throws(AmalgamError) in try NPYHeader.parse(bytes) }
            }
            return header
        } catch {
            let inside = entry.method == 0 ? error.context.offset ?? 0 : 0
            throw AmalgamError(
                error.code, "member '\(entry.name)': \(error.message)", offset: UInt64(entry.dataOffset) + inside,
                cause: error.cause)
        }
    }

    /// Checks a member's bytes against the CRC-32 its directory entry records; errors give
    /// the member's data offset in the archive.
    static func checkCRC(_ bytes: ByteRegion, of entry: ZipEntry) throws {
        let actual = bytes.withUnsafeBytes { Zlib.crc32($0) }
        guard actual == entry.crc32 else {
            throw AmalgamError(
                .invalidFormat,
                "member '\(entry.name)' fails its CRC-32 check (recorded \(hex(entry.crc32)), computed \(hex(actual)))",
                offset: UInt64(entry.dataOffset))
        }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// A whole member, inflated if needed into exactly `uncompressedSize` bytes (refused above
    /// `limit`), its CRC-32 checked.
    static func memberBytes(_ entry: ZipEntry, in archive: ByteRegion, limit: Int) throws -> ByteRegion {
        guard entry.uncompressedSize <= limit else {
            throw AmalgamError(
                .invalidFormat,
                "member '\(entry.name)' claims \(entry.uncompressedSize) bytes, over the \(limit) expected")
        }
        let compressed = archive.slice(offset: entry.dataOffset, count: entry.compressedSize)
        let bytes: ByteRegion
        if entry.method == 0 {
            bytes = compressed
        } else {
            let output = OwnedBuffer(byteCount: entry.uncompressedSize)
            do {
                _ = try compressed.withUnsafeBytes { (input) throws(AmalgamError) in
                    try Zlib.inflate(
                        input, into: UnsafeMutableRawBufferPointer(start: output.pointer, count: output.byteCount))
                }
            } catch {
                throw AmalgamError(.invalidFormat, "member '\(entry.name)': \(error.message)")
            }
            bytes = output.region
        }
        try checkCRC(bytes, of: entry)
        return bytes
    }

    static func readDTypes(_ bytes: ByteRegion) throws -> [String: DType] {
        let json = try bytes.withUnsafeBytes { (raw) throws(AmalgamError) in try JSONParser.parse(raw) }
        guard let members = json.objectValue else {
            throw AmalgamError(.invalidFormat, "\(dtypesMember) is not a JSON object")
        }
        var result: [String: DType] = [:]
        for (key, value) in members {
            guard let name = value.stringValue, let dtype = DType(name: name),
                [.bf16, .f8_e4m3, .f8_e5m2, .f16].contains(dtype)
            else {
                throw AmalgamError(
                    .invalidFormat,
                    "\(dtypesMember) gives '\(key)' the dtype \(value.serialized()), expected bf16, f8_e4m3 or f8_e5m2")
            }
            result[key] = dtype
        }
        return result
    }

    public func plan(_ graph: ModelGraph, to path: String, options: Options) throws -> any WritePlan {
        try NPZWritePlan(graph, to: path, options: options)
    }
}
