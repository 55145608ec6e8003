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

    /// A zip local header whose first member is a `.npy` or the dtype sidecar.
    public func sniff(_ prefix: [UInt8]) -> Bool {
        prefix.count >= 4 && prefix[0] == 0x50 && prefix[1] == 0x4B && prefix[2] == 3 && prefix[3] == 4
    }

    public func read(_ path: String, options: ReadOptions) throws -> ModelGraph {
        let file = try AmalgamError.withContext(file: path) { try MappedFile(path: path) }
        return try AmalgamError.withContext(file: path) { try Self.read(file.region) }
    }

    static func read(_ archive: ByteRegion) throws -> ModelGraph {
        let directory = try archive.withUnsafeBytes { (bytes) throws(AmalgamError) in try ZipDirectory(bytes) }
        var trueDTypes: [String: DType] = [:]
        if let sidecar = directory.entries.first(where: { $0.name == dtypesMember }) {
            trueDTypes = try readDTypes(try memberBytes(sidecar, in: archive, limit: 1 << 20))
        }
        var tensors: [Tensor] = []
        for entry in directory.entries where entry.name != dtypesMember {
            do {
                tensors.append(try tensor(for: entry, in: archive, trueDTypes: trueDTypes))
            } catch let error as AmalgamError {
                throw error.adding(offset: UInt64(entry.localHeaderOffset))
            }
        }
        return try ModelGraph(tensors: tensors, sourceFormat: "npz")
    }

    private static func tensor(for entry: ZipEntry, in archive: ByteRegion, trueDTypes: [String: DType]) throws
        -> Tensor
    {
        guard entry.name.hasSuffix(".npy") else {
            throw AmalgamError(.unsupported, "member '\(entry.name)' is not a .npy array")
        }
        let key = String(entry.name.dropLast(4))
        try NPZKeys.validate(key)
        // The npy header: straight from the map, or from the first inflated bytes.
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
                    bytes, into: UnsafeMutableRawBufferPointer(start: start.pointer, count: headerWindow), partial: true
                )
            }
            header = try start.region.withUnsafeBytes { (bytes) throws(AmalgamError) in try NPYHeader.parse(bytes) }
        }
        let dataBytes = try header.shape.byteCount(elementBytes: header.dtype.byteWidth)
        let expected = header.dataOffset + dataBytes
        guard entry.uncompressedSize == expected else {
            throw AmalgamError(
                .invalidFormat,
                "member '\(entry.name)': the archive records \(entry.uncompressedSize) bytes but its npy header (\(header.descr) \(header.shape)) implies \(expected)"
            )
        }
        // The member's bytes: a verified slice of the map, or inflated on demand.
        let member: TensorStorage
        let name = entry.name
        if entry.method == 0 {
            let slice = archive.slice(offset: entry.dataOffset, count: entry.compressedSize)
            let data = slice.slice(offset: header.dataOffset, count: dataBytes)
            member = .verified(data) { try checkCRC(slice, expected: entry.crc32, member: name) }
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

    static func checkCRC(_ bytes: ByteRegion, expected: UInt32, member: String) throws {
        let actual = bytes.withUnsafeBytes { Zlib.crc32($0) }
        guard actual == expected else {
            throw AmalgamError(
                .invalidFormat,
                "member '\(member)' fails its CRC-32 check (recorded \(hex(expected)), computed \(hex(actual)))")
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
        try checkCRC(bytes, expected: entry.crc32, member: entry.name)
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

/// Options of `.npz` output.
public struct NPZWriterOptions: WriterOptions {
    /// Deflate every member, as `numpy.savez_compressed` does.
    public var compress = false
    /// Store bf16/float8 as raw bit patterns plus `__amalgam_dtypes__.json`, not as float32.
    public var keepDType = false
    /// Sizes and offsets at or above this get ZIP64 records (0xFFFFFFFF per the format;
    /// tests lower it to exercise the ZIP64 path on small files).
    public var zip64Threshold = 0xFFFF_FFFF

    public init() {}

    public init(compress: Bool = false, keepDType: Bool = false, zip64Threshold: Int = 0xFFFF_FFFF) {
        self.compress = compress
        self.keepDType = keepDType
        self.zip64Threshold = zip64Threshold
    }

    public static let accepted: Set<OutputSetting> = [.compress, .keepDType]

    public init(_ settings: OutputSettings) {
        compress = settings.compress
        keepDType = settings.keepDType
    }
}

/// An `.npz` output decided in full: one member per tensor, its key checked.
struct NPZWritePlan: WritePlan {
    let path: String
    let options: NPZWriterOptions
    /// The member key of each tensor and whether it is transposed back (Flax kernels).
    let keys: [(key: String, transpose: Bool)]
    let tensorBytes: Int
    var targets: [String] { [path] }
    var loadOrder: [Int] { Array(keys.indices) }
    let warnings: [String]

    init(_ graph: ModelGraph, to path: String, options: NPZWriterOptions) throws {
        var seen = Set<String>()
        var keys: [(key: String, transpose: Bool)] = []
        var widened: [String] = []
        for tensor in graph.tensors {
            try AmalgamError.withContext(file: path, tensor: tensor.name) {
                let (key, transpose) = NPZKeys.key(for: tensor, graph: graph)
                try NPZKeys.validate(key)
                guard seen.insert(key).inserted else {
                    throw AmalgamError(.invalidFormat, "two tensors map to the npz key '\(key)'")
                }
                guard let dtype = tensor.encoding.dtype else {
                    throw AmalgamError(
                        .unsupported,
                        "is \(tensor.encoding)-quantised; npz stores plain dtypes: add --dtype f32, f16 or bf16 to decode it"
                    )
                }
                if NPYHeader.descr(for: dtype) == nil, !options.keepDType { widened.append(tensor.name) }
                keys.append((key, transpose))
            }
        }
        self.path = path
        self.options = options
        self.keys = keys
        self.tensorBytes = try graph.tensors.reduce(0) { $0 + (try $1.byteCount) }
        self.warnings =
            widened.isEmpty
            ? []
            : [
                "\(widened.count) tensor\(widened.count == 1 ? "" : "s") (e.g. '\(widened[0])') had a dtype numpy lacks (bf16/float8) and \(widened.count == 1 ? "was" : "were") written as float32; pass --keep-dtype to store the exact bits"
            ]
    }

    func write(_ graph: ModelGraph, into outputs: OutputSet, progress: any ProgressReporter) throws {
        let file = try outputs.create(path)
        var archive = ZipWriter(zip64Threshold: options.zip64Threshold)
        var sidecar: [(key: String, value: JSONValue)] = []
        for (tensor, (key, transpose)) in zip(graph.tensors, keys) {
            try AmalgamError.withContext(file: path, tensor: tensor.name) {
                let array = try NPYArray.encode(tensor, transposeBack: transpose, keepDType: options.keepDType)
                if let recorded = array.recordedDType { sidecar.append((key, .string(recorded.rawValue))) }
                let header = NPYHeader.serialize(
                    descr: array.descr, shape: array.shape, fortranOrder: array.fortranOrder)
                try array.bytes.withUnsafeBytes { (data) throws in
                    try header.withUnsafeBytes { (head) throws in
                        let crc = Zlib.crc32(data, continuing: Zlib.crc32(head))
                        let size = head.count + data.count
                        if options.compress {
                            let deflated = try Zlib.deflate(parts: [head, data])
                            try deflated.withUnsafeBytes { (payload) throws in
                                try archive.add(
                                    name: key + ".npy", method: 8, crc32: crc, uncompressedSize: size,
                                    payload: [payload],
                                    into: file)
                            }
                        } else {
                            try archive.add(
                                name: key + ".npy", method: 0, crc32: crc, uncompressedSize: size,
                                payload: [head, data],
                                into: file)
                        }
                    }
                }
                progress.advance(by: Int64(array.bytes.count))
            }
        }
        if !sidecar.isEmpty {
            let json = Array(JSONValue.object(sidecar).serialized().utf8)
            try json.withUnsafeBytes { (bytes) throws in
                try archive.add(
                    name: NPZPlugin.dtypesMember, method: 0, crc32: Zlib.crc32(bytes), uncompressedSize: bytes.count,
                    payload: [bytes], into: file)
            }
        }
        try archive.finish(into: file)
    }
}

/// A tensor's bytes as numpy will see them.
struct NPYArray {
    var descr: String
    var shape: [Int]
    var bytes: ByteRegion
    /// True when `bytes` are column-major (passed through from a Fortran-order source).
    var fortranOrder = false
    /// The dtype to record in the sidecar when the bytes are raw bit patterns.
    var recordedDType: DType?
    /// True when a dtype numpy lacks was converted to f32.
    var widened = false

    static func encode(_ tensor: Tensor, transposeBack: Bool, keepDType: Bool) throws -> NPYArray {
        guard let dtype = tensor.encoding.dtype else {
            throw AmalgamError(
                .unsupported,
                "is \(tensor.encoding)-quantised; npz stores plain dtypes: add --dtype f32, f16 or bf16 to decode it")
        }
        var shape = tensor.shape.dimensions
        // Column-major sources pass through as they are (no copy), unless they need transposing.
        let (view, order) = transposeBack ? (try tensor.loadBytes(), .rowMajor) : try tensor.loadView()
        var bytes = view
        let fortranOrder = order == .columnMajor
        if transposeBack {
            bytes = ElementLayout.transposed(bytes, rows: shape[0], columns: shape[1], width: dtype.byteWidth)
            shape = [shape[1], shape[0]]
        }
        if let descr = NPYHeader.descr(for: dtype) {
            return NPYArray(descr: descr, shape: shape, bytes: bytes, fortranOrder: fortranOrder)
        }
        if keepDType {
            return NPYArray(
                descr: dtype.byteWidth == 2 ? "<u2" : "|u1", shape: shape, bytes: bytes, fortranOrder: fortranOrder,
                recordedDType: dtype)
        }
        let count = tensor.shape.elementCount
        let output = OwnedBuffer(byteCount: count * 4)
        bytes.withUnsafeBytes { source in
            ElementConversion.convert(
                source, from: dtype,
                into: UnsafeMutableRawBufferPointer(start: output.pointer, count: output.byteCount), to: .f32,
                count: count)
        }
        return NPYArray(descr: "<f4", shape: shape, bytes: output.region, fortranOrder: fortranOrder, widened: true)
    }
}
