extension ModelGraph {
    /// A graph whose floating-point tensors are converted to `target` lazily, one tensor at
    /// a time when a writer loads it. Integer and bool tensors, and tensors already in
    /// `target`, pass through untouched (still zero-copy). Quantised tensors are decoded to
    /// f32 and then converted.
    ///
    /// - Throws: `.usage` when `target` is not a floating-point dtype.
    public func convertingFloatingPoint(to target: DType) throws -> ModelGraph {
        guard target.isFloatingPoint else {
            throw AmalgamError(.usage, "--dtype must be a floating-point type, not \(target.rawValue)")
        }
        return try mapTensors { tensor in
            switch tensor.encoding {
            case .plain(let dtype) where dtype == target || !dtype.isFloatingPoint:
                return tensor
            case .plain(let dtype):
                return tensor.converted(to: target) { try ($0.loadBytes(), dtype) }
            case .quantized:
                return tensor.converted(to: target) { tensor in
                    let values = try tensor.floatValues()
                    return (values.withUnsafeBytes { ByteRegion(copying: $0) }, .f32)
                }
            }
        }
    }
}

extension Tensor {
    /// This tensor re-encoded as `target` when loaded: `source` yields the bytes to convert
    /// and their plain dtype.
    fileprivate func converted(to target: DType, source: @escaping @Sendable (Tensor) throws -> (ByteRegion, DType))
        -> Tensor
    {
        var result = self
        result.encoding = .plain(target)
        let original = self
        let count = shape.elementCount
        result.storage = .deferred {
            let (bytes, dtype) = try source(original)
            let output = OwnedBuffer(byteCount: count * target.byteWidth)
            bytes.withUnsafeBytes { input in
                ElementConversion.convert(
                    input, from: dtype,
                    into: UnsafeMutableRawBufferPointer(start: output.pointer, count: output.byteCount),
                    to: target, count: count)
            }
            return output.region
        }
        return result
    }
}
