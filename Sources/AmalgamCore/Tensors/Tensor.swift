/// One tensor of a model: names, shape, encoding and lazily loaded bytes.
public struct Tensor: Sendable {
    /// Canonical (Hugging Face / PyTorch state_dict) name; merges align on it.
    public var name: String
    /// The name as the source file spells it (differs after GGUF or ONNX name mapping).
    public var originalName: String
    /// Row-major shape; a linear weight is `[out, in]`.
    public var shape: Shape
    public var encoding: TensorEncoding
    public var storage: TensorStorage

    public init(
        name: String, originalName: String? = nil, shape: Shape, encoding: TensorEncoding, storage: TensorStorage
    ) {
        self.name = name
        self.originalName = originalName ?? name
        self.shape = shape
        self.encoding = encoding
        self.storage = storage
    }

    /// Exact size of the tensor's bytes in its encoding.
    public var byteCount: Int {
        get throws(AmalgamError) { try encoding.byteCount(for: shape) }
    }

    /// Loads the bytes and checks they have the size the shape and encoding imply.
    public func loadBytes() throws -> ByteRegion {
        let region = try storage.load()
        let expected = try byteCount
        guard region.count == expected else {
            throw AmalgamError(
                .internal, "storage holds \(region.count) bytes, shape \(shape) in \(encoding) needs \(expected)",
                tensor: name)
        }
        return region
    }

    /// The bytes in their stored order (column-major passes through zero-copy), size-checked.
    public func loadView() throws -> (bytes: ByteRegion, order: StorageOrder) {
        let view = try storage.loadView()
        let expected = try byteCount
        guard view.bytes.count == expected else {
            throw AmalgamError(
                .internal, "storage holds \(view.bytes.count) bytes, shape \(shape) in \(encoding) needs \(expected)",
                tensor: name)
        }
        return view
    }

    /// The number of rows: elements over the innermost dimension (1 for a scalar; 0 for an
    /// empty tensor). Rows are the unit of streaming: each is a whole number of quantised blocks.
    public var rowCount: Int {
        let row = shape.dimensions.last ?? 1
        return row == 0 ? 0 : shape.elementCount / row
    }

    /// Elements of one row (the innermost dimension; 1 for a scalar).
    public var rowLength: Int { shape.dimensions.last ?? 1 }

    /// The tensor's bytes a range of rows at a time, for one pass (see `TensorStorage.rowReader`).
    public func rowReader() throws -> RowReader {
        try storage.rowReader(rowCount: rowCount)
    }

    /// The size of the blocks streaming writers work in: big enough that per-block work is
    /// negligible, small enough that a conversion's memory does not grow with the tensor.
    public static let streamingBlockBytes = 16 << 20

    /// Calls `body` with consecutive blocks of whole rows covering the tensor, in order, each
    /// about `maxBytes` (one row at least; a multiple of `rowMultiple` rows but for the last),
    /// with the block's rows. A tensor of at most `maxBytes` is one block (as `loadBytes()`).
    /// Sizes are checked as `loadBytes()` checks them; inputs truncated while they were read fail.
    ///
    /// Memory: one block of the tensor's bytes (plus what its storage computes them from),
    /// whatever the tensor's size.
    public func forEachRowBlock(
        maxBytes: Int = Tensor.streamingBlockBytes, rowMultiple: Int = 1,
        _ body: (_ rows: Range<Int>, _ bytes: ByteRegion) throws -> Void
    ) throws {
        let total = try byteCount
        let rows = rowCount
        guard total > maxBytes, rows > 1 else { return try body(0..<rows, try loadBytes()) }
        let rowBytes = total / rows
        let step = max(1, maxBytes / rowBytes / max(rowMultiple, 1)) * max(rowMultiple, 1)
        let reader = try rowReader()
        var first = 0
        while first < rows {
            let range = first..<min(rows, first + step)
            let bytes = try reader.rows(range)
            guard bytes.count == range.count * rowBytes else {
                throw AmalgamError(
                    .internal,
                    "rows \(range) hold \(bytes.count) bytes, shape \(shape) in \(encoding) needs \(range.count * rowBytes)",
                    tensor: name)
            }
            try MappedFile.checkAllIntact()
            try body(range, bytes)
            first = range.upperBound
        }
    }

    /// The values as f32 (quantised encodings decoded).
    public func floatValues() throws -> [Float] {
        try AmalgamError.withContext(tensor: name) {
            try encoding.decodeToFloat(try loadBytes(), elementCount: shape.elementCount)
        }
    }
}

extension Tensor {
    /// A tensor owning a copy of `values` in dtype `.f32` (for tests, demos and results).
    public init(name: String, shape: Shape, floats values: [Float]) {
        precondition(values.count == shape.elementCount, "\(values.count) values for shape \(shape)")
        let region = values.withUnsafeBytes { ByteRegion(copying: $0) }
        self.init(name: name, shape: shape, encoding: .plain(.f32), storage: .region(region))
    }

    /// A tensor owning a copy of `values` in dtype `.i64` (labels, token ids).
    public init(name: String, shape: Shape, integers values: [Int64]) {
        precondition(values.count == shape.elementCount, "\(values.count) values for shape \(shape)")
        let region = values.map(\.littleEndian).withUnsafeBytes { ByteRegion(copying: $0) }
        self.init(name: name, shape: shape, encoding: .plain(.i64), storage: .region(region))
    }
}

extension ModelGraph {
    /// Identities of the files this graph's tensors are mapped from (so writers can refuse
    /// to overwrite them).
    public var sourceFileIdentities: Set<FileIdentity> {
        Set(tensors.compactMap { $0.storage.mappedFile?.identity })
    }
}

extension ModelGraph {
    /// The same graph, with every tensor's load errors attributed to `file` (see
    /// `TensorStorage.attributingErrors(to:)`).
    public func attributingLoadErrors(to file: String) throws -> ModelGraph {
        try mapTensors { tensor in
            var copy = tensor
            copy.storage = tensor.storage.attributingErrors(to: file)
            return copy
        }
    }
}
