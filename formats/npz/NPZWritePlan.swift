import AmalgamCore

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
        var mapped: [(name: String, key: String)] = []
        for tensor in graph.tensors {
            try AmalgamError.withContext(file: path, tensor: tensor.name) {
                var (key, transpose) = NPZKeys.key(for: tensor, graph: graph)
                if (try? NPZKeys.validate(key)) == nil {
                    // A name that is a path (an ONNX node output): a key made of its parts.
                    let safe = NPZKeys.safeKey(for: key)
                    try NPZKeys.validate(safe)
                    mapped.append((key, safe))
                    key = safe
                }
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
        var warnings: [String] = []
        if !widened.isEmpty {
            warnings.append(
                "\(widened.count) tensor\(widened.count == 1 ? "" : "s") (e.g. '\(widened[0])') had a dtype numpy lacks (bf16/float8) and \(widened.count == 1 ? "was" : "were") written as float32; pass --keep-dtype to store the exact bits"
            )
        }
        if let first = mapped.first {
            warnings.append(
                "\(mapped.count) tensor name\(mapped.count == 1 ? " is" : "s are") not a valid npz key (a path): written under keys made of \(mapped.count == 1 ? "its" : "their") parts, e.g. '\(first.name)' as '\(first.key)'"
            )
        }
        self.warnings = warnings
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
                // Streamed: the header's CRC and stored size are filled in after the data.
                let size = header.count + array.byteCount
                let member = try archive.begin(
                    name: key + ".npy", method: options.compress ? 8 : 0, uncompressedSize: size,
                    sizeBound: options.compress ? Zlib.deflateBound(size) : size, into: file)
                let deflater: Zlib.Deflater? = options.compress ? try Zlib.Deflater() : nil
                var crc: UInt32 = 0
                let put = { (raw: UnsafeRawBufferPointer) throws in
                    crc = Zlib.crc32(raw, continuing: crc)
                    if let deflater {
                        try deflater.feed(raw, finish: false) { try file.write($0) }
                    } else {
                        try file.write(raw)
                    }
                }
                try header.withUnsafeBytes { try put($0) }
                try array.forEachBlock { bytes in
                    try bytes.withUnsafeBytes { try put($0) }
                    try (bytes.owner as? MappedFile)?.checkIntact()
                    progress.advance(by: Int64(bytes.count))
                }
                try deflater?.feed(UnsafeRawBufferPointer(start: nil, count: 0), finish: true) { try file.write($0) }
                try archive.finish(member, crc32: crc, into: file)
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
