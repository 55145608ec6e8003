/// The order elements are stored in: row-major (C, the convention everywhere in Amalgam)
/// or column-major (Fortran, as some `.npy` files hold them).
public enum StorageOrder: Sendable, Hashable {
    case rowMajor
    case columnMajor
}

/// Where a tensor's bytes come from. Loading is lazy: a memory-mapped slice costs nothing
/// until touched, and a deferred computation (a dtype conversion, a merge) runs only when a
/// writer asks for the bytes, one tensor at a time.
public struct TensorStorage: Sendable {
    enum Backing: Sendable {
        case region(ByteRegion)
        case verified(ByteRegion, @Sendable () throws -> Void)
        case deferred(@Sendable () throws -> ByteRegion)
        /// Column-major bytes of an array of `dimensions` with `width`-byte elements.
        case columnMajor(ByteRegion, dimensions: [Int], width: Int)
    }

    let backing: Backing

    /// Bytes already at hand: a mapped file slice or an owned buffer.
    public static func region(_ region: ByteRegion) -> TensorStorage { TensorStorage(backing: .region(region)) }

    /// Bytes already at hand that `check` validates each time they are loaded (a CRC over
    /// a mapped zip member, say): still zero-copy.
    public static func verified(_ region: ByteRegion, check: @escaping @Sendable () throws -> Void) -> TensorStorage {
        TensorStorage(backing: .verified(region, check))
    }

    /// Bytes produced on demand by `producer` (called once per `load()`; not cached, so that
    /// streaming writers hold one tensor at a time).
    public static func deferred(_ producer: @escaping @Sendable () throws -> ByteRegion) -> TensorStorage {
        TensorStorage(backing: .deferred(producer))
    }

    /// Column-major bytes exposed zero-copy; `load()` reorders them (allocating), while
    /// `loadView()` hands them out as they are.
    public static func columnMajor(_ region: ByteRegion, dimensions: [Int], width: Int) -> TensorStorage {
        TensorStorage(backing: .columnMajor(region, dimensions: dimensions, width: width))
    }

    /// The bytes in whatever order they are stored, without copying where possible.
    public func loadView() throws -> (bytes: ByteRegion, order: StorageOrder) {
        if case .columnMajor(let region, _, _) = backing { return (region, .columnMajor) }
        return (try load(), .rowMajor)
    }

    /// The tensor's bytes in row-major order.
    public func load() throws -> ByteRegion {
        switch backing {
        case .region(let region): return region
        case .verified(let region, let check):
            try check()
            return region
        case .deferred(let producer): return try producer()
        case .columnMajor(let region, let dimensions, let width):
            return ElementLayout.columnMajorToRowMajor(region, shape: dimensions, width: width)
        }
    }

    /// True when the bytes are a zero-copy slice of a memory-mapped input.
    public var isMemoryMapped: Bool { mappedFile != nil }
}

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
}

extension TensorStorage {
    /// The memory-mapped file the bytes come from, if any.
    /// The mapped bytes behind this storage, without running any check or conversion (nil
    /// for computed storage). For page management, not for reading values.
    public var mappedRegion: ByteRegion? {
        switch backing {
        case .region(let region), .verified(let region, _), .columnMajor(let region, _, _):
            region.isMemoryMapped ? region : nil
        case .deferred: nil
        }
    }

    public var mappedFile: MappedFile? {
        switch backing {
        case .region(let region), .verified(let region, _), .columnMajor(let region, _, _): region.owner as? MappedFile
        case .deferred: nil
        }
    }
}

extension ModelGraph {
    /// Identities of the files this graph's tensors are mapped from (so writers can refuse
    /// to overwrite them).
    public var sourceFileIdentities: Set<FileIdentity> {
        Set(tensors.compactMap { $0.storage.mappedFile?.identity })
    }
}

extension TensorStorage {
    /// The same storage, with errors raised while loading attributed to `file` (the input
    /// the bytes come from) unless they already name a file.
    public func attributingErrors(to file: String) -> TensorStorage {
        switch backing {
        case .region, .columnMajor:
            return self
        case .verified(let region, let check):
            return .verified(region) { try AmalgamError.withContext(file: file) { try check() } }
        case .deferred(let producer):
            return .deferred { try AmalgamError.withContext(file: file) { try producer() } }
        }
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
