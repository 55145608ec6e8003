import Synchronization

/// The result of loading one tensor completely.
public struct TensorVerification: Sendable {
    public var name: String
    /// NaN and infinite values (nil for non-floating dtypes); quantised tensors are decoded.
    public var nonFinite: Int?
}

extension InspectionReport {
    /// Loads every tensor's bytes (checking CRCs, inflating, reordering, as the format
    /// requires), decodes quantised blocks, and counts non-finite values of floating-point
    /// tensors, several tensors at once on the threads of `parallelism`. After an error no new
    /// tensor is started, and the first error in model order among those read is thrown.
    public func verify(parallelism: Parallelism = .current) throws -> [TensorVerification] {
        let tensors = graph.tensors
        let results = Mutex([Result<TensorVerification, any Error>?](repeating: nil, count: tensors.count))
        let failed = Atomic<Bool>(false)
        parallelism.forEach(tensors.count) { index in
            guard !failed.load(ordering: .relaxed) else { return }
            let result = Result { try Self.verify(tensors[index]) }
            if case .failure = result { failed.store(true, ordering: .relaxed) }
            results.withLock { $0[index] = result }
        }
        return try results.withLock { $0 }.compactMap { try $0?.get() }
    }

    private static func verify(_ tensor: Tensor) throws -> TensorVerification {
        // Done with its pages once checked: peak memory follows the tensors in flight.
        defer { tensor.storage.mappedRegion?.releaseResidentPages() }
        return try AmalgamError.withContext(tensor: tensor.name) {
            let verification = try countNonFinite(tensor)
            // Zeros read from a file truncated meanwhile are not the file's values.
            try tensor.storage.mappedFile?.checkIntact()
            return verification
        }
    }

    private static func countNonFinite(_ tensor: Tensor) throws -> TensorVerification {
        let bytes = try tensor.loadBytes()
        if case .quantized = tensor.encoding {
            // Decoding is the only way to know the blocks hold numbers.
            let values = try tensor.encoding.decodeToFloat(bytes, elementCount: tensor.shape.elementCount)
            return TensorVerification(name: tensor.name, nonFinite: values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) })
        }
        guard let dtype = tensor.encoding.dtype, dtype.isFloatingPoint else {
            return TensorVerification(name: tensor.name, nonFinite: nil)
        }
        let count = tensor.shape.elementCount
        let nonFinite = bytes.withUnsafeBytes { raw -> Int in
            var total = 0
            switch dtype {
            case .f32:
                for i in 0..<count
                where raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) & 0x7F80_0000 == 0x7F80_0000 {
                    total += 1
                }
            case .f16:
                for i in 0..<count
                where raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7C00 == 0x7C00 { total += 1 }
            case .bf16:
                for i in 0..<count
                where raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7F80 == 0x7F80 { total += 1 }
            default:
                for i in 0..<count where !ElementConversion.loadDouble(raw.baseAddress!, as: dtype, at: i).isFinite {
                    total += 1
                }
            }
            return total
        }
        return TensorVerification(name: tensor.name, nonFinite: nonFinite)
    }
}
