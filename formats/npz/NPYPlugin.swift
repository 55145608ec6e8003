import AmalgamCore

/// A single NumPy `.npy` array: a graph of one tensor named after the file (`emb.npy` ->
/// `emb`). Little-endian C-order data is exposed zero-copy from the memory map.
public struct NPYPlugin: FormatReader, FormatWriter {
    public typealias Options = NPYWriterOptions

    public init() {}

    public var identifier: String { "npy" }
    public var displayName: String { "NumPy .npy" }
    public var fileExtensions: [String] { ["npy"] }

    public func sniff(_ prefix: [UInt8]) -> Bool { prefix.starts(with: NPYHeader.magic) }

    /// The reader's first fault, and when strict what numpy never writes (unpadded header, unsorted keys).
    public func audit(_ path: String, options: ReadOptions, strict: Bool) -> FileAudit {
        var audit = defaultAudit(path, options: options)
        guard strict, audit.faults.isEmpty, let file = try? MappedFile(path: path),
            let header = try? file.region.withUnsafeBytes({ (bytes) throws(AmalgamError) in try NPYHeader.parse(bytes) }
            )
        else { return audit }
        audit.departures = header.departures.map { AmalgamError(.invalidFormat, $0, file: path, offset: 8) }
        return audit
    }

    public func read(_ path: String, options: ReadOptions) throws -> ModelGraph {
        let file = try AmalgamError.withContext(file: path) { try MappedFile(path: path) }
        return try AmalgamError.withContext(file: path) {
            let region = file.region
            let header = try region.withUnsafeBytes { (bytes) throws(AmalgamError) in try NPYHeader.parse(bytes) }
            let dataBytes = try header.shape.byteCount(elementBytes: header.dtype.byteWidth)
            let available = region.count - header.dataOffset
            guard available >= dataBytes else {
                throw AmalgamError(
                    .invalidFormat,
                    "array data is truncated: \(header.descr) \(header.shape) needs \(dataBytes) bytes, the file has \(available)",
                    offset: UInt64(header.dataOffset))
            }
            guard available == dataBytes else {
                throw AmalgamError(
                    .invalidFormat, "\(available - dataBytes) trailing bytes after the array data",
                    offset: UInt64(header.dataOffset + dataBytes))
            }
            let base = FileSystem.baseName(of: path)
            let name = base.hasSuffix(".npy") ? String(base.dropLast(4)) : base
            let data = region.slice(offset: header.dataOffset, count: dataBytes)
            let storage = ArrayLayout.storage(
                dtype: header.dtype, shape: header.shape, bigEndian: header.bigEndian,
                fortranOrder: header.fortranOrder,
                transpose2D: false, load: .region(data), zeroCopy: data)
            let tensor = Tensor(name: name, shape: header.shape, encoding: .plain(header.dtype), storage: storage)
            return try ModelGraph(tensors: [tensor], sourceFormat: identifier)
        }
    }

    public func plan(_ graph: ModelGraph, to path: String, options: Options) throws -> any WritePlan {
        guard graph.tensors.count == 1 else {
            throw AmalgamError(
                .usage,
                "a .npy file holds one array and this model has \(graph.tensors.count) tensors; write an .npz instead",
                file: path)
        }
        let tensor = graph.tensors[0]
        guard let dtype = tensor.encoding.dtype else {
            throw AmalgamError(
                .unsupported,
                "is \(tensor.encoding)-quantised; npy stores plain dtypes: add --dtype f32, f16 or bf16 to decode it",
                file: path, tensor: tensor.name)
        }
        let widened = NPYHeader.descr(for: dtype) == nil
        return NPYWritePlan(
            path: path, tensorBytes: try tensor.byteCount,
            warnings: widened ? ["'\(tensor.name)' is \(tensor.encoding), which numpy lacks; written as float32"] : [])
    }
}
