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
                var converted = tensor
                converted.encoding = .plain(target)
                let count = tensor.shape.elementCount
                converted.storage = .deferred {
                    let source = try tensor.loadBytes()
                    let output = OwnedBuffer(byteCount: count * target.byteWidth)
                    source.withUnsafeBytes { bytes in
                        ElementConversion.convert(
                            bytes, from: dtype,
                            into: UnsafeMutableRawBufferPointer(start: output.pointer, count: output.byteCount),
                            to: target, count: count)
                    }
                    return output.region
                }
                return converted
            case .quantized:
                var converted = tensor
                converted.encoding = .plain(target)
                let count = tensor.shape.elementCount
                converted.storage = .deferred {
                    let values = try tensor.floatValues()
                    let output = OwnedBuffer(byteCount: count * target.byteWidth)
                    values.withUnsafeBytes { bytes in
                        ElementConversion.convert(
                            bytes, from: .f32,
                            into: UnsafeMutableRawBufferPointer(start: output.pointer, count: output.byteCount),
                            to: target, count: count)
                    }
                    return output.region
                }
                return converted
            }
        }
    }
}
