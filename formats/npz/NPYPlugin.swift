import AmalgamCore

/// A single NumPy `.npy` array: a graph of one tensor named after the file (`emb.npy` ->
/// `emb`). Little-endian C-order data is exposed zero-copy from the memory map.
public struct NPYPlugin: FormatPlugin {
    public init() {}

    public var identifier: String { "npy" }
    public var displayName: String { "NumPy .npy" }
    public var fileExtensions: [String] { ["npy"] }
    public var capabilities: FormatCapabilities { [.read, .write] }

    public func sniff(_ prefix: [UInt8]) -> Bool { prefix.starts(with: NPYHeader.magic) }

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

    @discardableResult
    public func write(_ graph: ModelGraph, to path: String, options: WriteOptions) throws -> [String] {
        guard graph.tensors.count == 1 else {
            throw AmalgamError(
                .usage,
                "a .npy file holds one array and this model has \(graph.tensors.count) tensors; write an .npz instead",
                file: path)
        }
        let tensor = graph.tensors[0]
        let transaction = OutputTransaction(overwrite: options.overwrite, protecting: options.protectedInputs)
        let file = try transaction.create(path)
        try AmalgamError.withContext(file: path, tensor: tensor.name) {
            let array = try NPYArray.encode(tensor, transposeBack: false, keepDType: false)
            try file.write(
                NPYHeader.serialize(descr: array.descr, shape: array.shape, fortranOrder: array.fortranOrder))
            try file.write(array.bytes)
            if array.widened {
                options.warn("'\(tensor.name)' is \(tensor.encoding), which numpy lacks; written as float32")
            }
        }
        try options.validateBeforeCommit()
        try transaction.commit()
        return transaction.targetPaths
    }
}
