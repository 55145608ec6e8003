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

extension ModelGraph {
    /// The graph with only its block-quantised tensors decoded, to `target` (lazily); plain
    /// tensors pass through untouched.
    public func decodingQuantized(to target: DType) throws -> ModelGraph {
        try mapTensors { tensor in
            guard case .quantized = tensor.encoding else { return tensor }
            return tensor.converted(to: target) { tensor in
                let values = try tensor.floatValues()
                return (values.withUnsafeBytes { ByteRegion(copying: $0) }, .f32)
            }
        }
    }

    /// The quantised encodings the graph holds, by name (`Q4_K`), sorted.
    public var quantizedEncodings: [String] {
        Set(
            tensors.compactMap { tensor -> String? in
                if case .quantized(let encoding) = tensor.encoding { return encoding.codec.name }
                return nil
            }
        ).sorted()
    }

    /// The floating-point dtype most of the graph's plain float tensors have (f32 when none):
    /// what its quantised tensors decode to when no dtype is asked for.
    public var prevailingFloatDType: DType {
        var counts: [DType: Int] = [:]
        for tensor in tensors {
            if let dtype = tensor.encoding.dtype, dtype.isFloatingPoint { counts[dtype, default: 0] += 1 }
        }
        return counts.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? .f32
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
