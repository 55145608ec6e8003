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
            case .plain, .quantized:
                return tensor.converted(to: target)
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
            return tensor.converted(to: target)
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
    /// This tensor re-encoded as `target` when loaded, a block of rows at a time (quantised
    /// blocks decoded to f32 first). The input pages of a block are released once it is
    /// converted, so streaming a mapped tensor keeps one block resident, not the tensor.
    fileprivate func converted(to target: DType) -> Tensor {
        var result = self
        result.encoding = .plain(target)
        let original = self
        let rowLength = self.rowLength
        result.storage = .rows(rowCount) {
            let reader = try original.rowReader()
            return RowReader(rowCount: reader.rowCount) { range in
                let source = try reader.rows(range)
                defer { source.releaseResidentPages() }
                let count = range.count * rowLength
                let output = OwnedBuffer(byteCount: count * target.byteWidth)
                let destination = UnsafeMutableRawBufferPointer(start: output.pointer, count: output.byteCount)
                switch original.encoding {
                case .plain(let dtype):
                    source.withUnsafeBytes { input in
                        ElementConversion.convert(input, from: dtype, into: destination, to: target, count: count)
                    }
                case .quantized where target == .f32:
                    try original.encoding.decode(source, into: destination.bindMemory(to: Float.self))
                case .quantized:
                    let values = try original.encoding.decodeToFloat(source, elementCount: count)
                    values.withUnsafeBytes { input in
                        ElementConversion.convert(input, from: .f32, into: destination, to: target, count: count)
                    }
                }
                return output.region
            }
        }
        return result
    }
}
