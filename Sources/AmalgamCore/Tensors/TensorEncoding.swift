import Synchronization

/// How a tensor's bytes encode its values: a plain dtype, or blocks of a quantised codec.
public enum TensorEncoding: Sendable, Hashable, CustomStringConvertible {
    case plain(DType)
    case quantized(QuantizedEncoding)

    /// `f32`, `bf16`, ... for plain dtypes; the codec's name (`Q4_K`) for quantised ones.
    public var description: String {
        switch self {
        case .plain(let dtype): dtype.rawValue
        case .quantized(let encoding): encoding.codec.name
        }
    }

    /// The plain dtype, or nil for quantised encodings.
    public var dtype: DType? {
        if case .plain(let dtype) = self { return dtype }
        return nil
    }

    /// Exact byte size of a tensor of `shape` in this encoding. Throws on overflow, and for
    /// quantised encodings when the innermost dimension is not a whole number of blocks.
    public func byteCount(for shape: Shape) throws(AmalgamError) -> Int {
        switch self {
        case .plain(let dtype):
            return try shape.byteCount(elementBytes: dtype.byteWidth)
        case .quantized(let encoding):
            let codec = encoding.codec
            let row = shape.dimensions.last ?? 1
            guard row % codec.blockElements == 0 else {
                throw AmalgamError(
                    .invalidFormat,
                    "innermost dimension \(row) is not a multiple of the \(codec.name) block size \(codec.blockElements)"
                )
            }
            let blocks = shape.elementCount / codec.blockElements
            let (bytes, overflow) = blocks.multipliedReportingOverflow(by: codec.blockBytes)
            guard !overflow else {
                throw AmalgamError(.overflow, "byte size of shape \(shape) in \(codec.name) overflows")
            }
            return bytes
        }
    }

    /// Decodes `elementCount` values to f32. Throws when `bytes` is not exactly the size the
    /// encoding needs, or when a plain dtype has no f32 value (none today).
    public func decodeToFloat(_ bytes: ByteRegion, elementCount: Int) throws -> [Float] {
        switch self {
        case .plain(let dtype):
            try Self.checkPlain(dtype, bytes: bytes, elementCount: elementCount)
            return bytes.withUnsafeBytes { ElementConversion.decodeToFloat($0, from: dtype, count: elementCount) }
        case .quantized(let encoding):
            let codec = encoding.codec
            let blocks = elementCount / codec.blockElements
            guard elementCount % codec.blockElements == 0, bytes.count == blocks * codec.blockBytes else {
                throw AmalgamError(.internal, "tensor holds \(bytes.count) bytes, not \(blocks) \(codec.name) blocks")
            }
            return try [Float](unsafeUninitializedCapacity: elementCount) { values, initialized in
                try bytes.withUnsafeBytes { try Self.decodeInParallel($0, codec: codec, into: values) }
                initialized = elementCount
            }
        }
    }

    /// A plain dtype's decode needs real values and exactly `elementCount` of them.
    private static func checkPlain(_ dtype: DType, bytes: ByteRegion, elementCount: Int) throws {
        guard !dtype.isComplex else {
            throw AmalgamError(.unsupported, "holds complex (\(dtype.rawValue)) values; this needs real numbers")
        }
        guard bytes.count == elementCount * dtype.byteWidth else {
            throw AmalgamError(
                .internal, "tensor holds \(bytes.count) bytes, expected \(elementCount * dtype.byteWidth)")
        }
    }

    /// Decodes `bytes` into `values`, which holds exactly their elements (whole blocks of a
    /// quantised encoding), without an intermediate array.
    public func decode(_ bytes: ByteRegion, into values: UnsafeMutableBufferPointer<Float>) throws {
        let encoding: QuantizedEncoding
        switch self {
        case .plain(let dtype):
            try Self.checkPlain(dtype, bytes: bytes, elementCount: values.count)
            bytes.withUnsafeBytes {
                ElementConversion.convert(
                    $0, from: dtype, into: UnsafeMutableRawBufferPointer(values), to: .f32, count: values.count)
            }
            return
        case .quantized(let quantized): encoding = quantized
        }
        let codec = encoding.codec
        guard values.count % codec.blockElements == 0,
            bytes.count == values.count / codec.blockElements * codec.blockBytes
        else {
            throw AmalgamError(
                .internal, "\(bytes.count) bytes are not \(values.count / codec.blockElements) \(codec.name) blocks")
        }
        try bytes.withUnsafeBytes { try Self.decodeInParallel($0, codec: codec, into: values) }
    }

    /// Decodes blocks in chunks of about 64 Ki values, on the threads of `Parallelism.current` when there are several
    /// chunks. Chunks write disjoint ranges of `values`.
    static func decodeInParallel(
        _ blocks: UnsafeRawBufferPointer, codec: any QuantizedCodec, into values: UnsafeMutableBufferPointer<Float>
    ) throws {
        let blockCount = blocks.count / codec.blockBytes
        let perChunk = max(1, 65_536 / codec.blockElements)
        let chunks = (blockCount + perChunk - 1) / perChunk
        guard chunks > 1 else { return try codec.decode(blocks, into: values) }
        nonisolated(unsafe) let input = blocks.baseAddress!
        nonisolated(unsafe) let output = values.baseAddress!
        let failure = FirstFailure()
        Parallelism.current.forEach(chunks) { chunk in
            let first = chunk * perChunk
            let count = min(perChunk, blockCount - first)
            do {
                try codec.decode(
                    UnsafeRawBufferPointer(start: input + first * codec.blockBytes, count: count * codec.blockBytes),
                    into: UnsafeMutableBufferPointer(
                        start: output + first * codec.blockElements, count: count * codec.blockElements))
            } catch {
                failure.record(error)
            }
        }
        if let error = failure.error { throw error }
    }
}
