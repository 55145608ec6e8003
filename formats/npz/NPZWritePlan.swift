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
