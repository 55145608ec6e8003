/// Bulk conversion of element buffers between dtypes.
///
/// Reads are unaligned-safe (memory-mapped tensors need not be aligned). Work above about
/// a million elements is split across the threads of `Parallelism.current`. Cost: O(count); f16 -> f32 is a table
/// lookup, f32 <-> bf16 and f32 -> f16 are branch-light bit arithmetic.
public enum ElementConversion {
    /// Every f16 bit pattern decoded to f32 (256 KiB, built once).
    @usableFromInline
    static let f16Table: [Float] = (0...UInt16.max).map { FloatBits.float(fromF16: $0) }

    /// True when `from -> to` is a conversion this type performs: identical dtypes, any
    /// floating-point dtype to any floating-point dtype, any real dtype to f32/f64, or an
    /// integer dtype to one that holds all its values (bool and u8 to i16, u32 to i64...).
    public static func canConvert(from: DType, to: DType) -> Bool {
        from == to || (from.isFloatingPoint && to.isFloatingPoint) || ((to == .f32 || to == .f64) && !from.isComplex)
            || to.holdsEveryValue(of: from)
    }

    /// Converts `count` elements of `from` in `source` to `to` in `destination`.
    ///
    /// - Precondition: `source` holds at least `count * from.byteWidth` bytes and
    ///   `destination` at least `count * to.byteWidth` bytes;
    ///   `canConvert(from:to:)` is true.
    public static func convert(
        _ source: UnsafeRawBufferPointer, from: DType,
        into destination: UnsafeMutableRawBufferPointer, to: DType, count: Int
    ) {
        precondition(source.count >= count * from.byteWidth && destination.count >= count * to.byteWidth)
        precondition(canConvert(from: from, to: to), "no conversion from \(from) to \(to)")
        if count == 0 { return }
        if from == to {
            destination.baseAddress!.copyMemory(from: source.baseAddress!, byteCount: count * from.byteWidth)
            return
        }
        let chunk = 1 << 18
        let chunks = (count + chunk - 1) / chunk
        // Chunks touch disjoint ranges of the two buffers, which outlive the loop.
        nonisolated(unsafe) let input = source.baseAddress!
        nonisolated(unsafe) let output = destination.baseAddress!
        let work: @Sendable (Int) -> Void = { index in
            let start = index * chunk
            let length = min(chunk, count - start)
            convertRange(
                input + start * from.byteWidth, from: from, into: output + start * to.byteWidth, to: to, count: length)
        }
        if chunks >= 4 {
            Parallelism.current.forEach(chunks, work)
        } else {
            for index in 0..<chunks { work(index) }
        }
    }

    /// Decodes `count` elements to f32 (integers convert by value; f64 rounds to nearest).
    public static func decodeToFloat(_ source: UnsafeRawBufferPointer, from: DType, count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            convert(source, from: from, into: UnsafeMutableRawBufferPointer(buffer), to: .f32, count: count)
            initialized = count
        }
    }

    @usableFromInline
    static func convertRange(
        _ source: UnsafeRawPointer, from: DType, into destination: UnsafeMutableRawPointer,
        to: DType, count: Int
    ) {
        switch (from, to) {
        case (.f16, .f32):
            f16Table.withUnsafeBufferPointer { table in
                for i in 0..<count {
                    let bits = source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                    destination.storeBytes(of: table[Int(bits)], toByteOffset: 4 * i, as: Float.self)
                }
            }
        case (.f32, .f16):
            for i in 0..<count {
                let value = source.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
                destination.storeBytes(of: FloatBits.f16(from: value), toByteOffset: 2 * i, as: UInt16.self)
            }
        case (.bf16, .f32):
            for i in 0..<count {
                let bits = source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                destination.storeBytes(of: UInt32(bits) << 16, toByteOffset: 4 * i, as: UInt32.self)
            }
        case (.f32, .bf16):
            for i in 0..<count {
                let value = source.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
                destination.storeBytes(of: FloatBits.bf16(from: value), toByteOffset: 2 * i, as: UInt16.self)
            }
        case (.f64, _) where to != .f32 && to != .f64:
            // Round to odd first so the final rounding is the only one that counts.
            for i in 0..<count {
                let value = source.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)
                if value.isNaN {
                    storeNaN(value, as: to, into: destination, at: i)
                } else {
                    store(FloatBits.roundToOdd(value), as: to, into: destination, at: i)
                }
            }
        case _ where to.isInteger:
            // A widening (canConvert): every value fits.
            for i in 0..<count { storeInteger(loadInteger(source, as: from, at: i), as: to, into: destination, at: i) }
        default:
            for i in 0..<count {
                if to == .f64 {
                    destination.storeBytes(
                        of: loadDouble(source, as: from, at: i), toByteOffset: 8 * i, as: Double.self)
                } else {
                    store(loadFloat(source, as: from, at: i), as: to, into: destination, at: i)
                }
            }
        }
    }

    /// Element `index` of a buffer of `dtype`, as f32 (f64 and wide integers round to nearest).
    @inlinable
    public static func loadFloat(_ source: UnsafeRawPointer, as dtype: DType, at index: Int) -> Float {
        switch dtype {
        case .bool: source.load(fromByteOffset: index, as: UInt8.self) != 0 ? 1 : 0
        case .u8: Float(source.load(fromByteOffset: index, as: UInt8.self))
        case .i8: Float(source.load(fromByteOffset: index, as: Int8.self))
        case .u16: Float(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
        case .i16: Float(source.loadUnaligned(fromByteOffset: 2 * index, as: Int16.self))
        case .u32: Float(source.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self))
        case .i32: Float(source.loadUnaligned(fromByteOffset: 4 * index, as: Int32.self))
        case .u64: Float(source.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self))
        case .i64: Float(source.loadUnaligned(fromByteOffset: 8 * index, as: Int64.self))
        case .f16: FloatBits.float(fromF16: source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
        case .bf16: FloatBits.float(fromBF16: source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
        case .f32: source.loadUnaligned(fromByteOffset: 4 * index, as: Float.self)
        case .f64: Float(source.loadUnaligned(fromByteOffset: 8 * index, as: Double.self))
        case .f8_e4m3: FloatBits.float(fromF8E4M3: source.load(fromByteOffset: index, as: UInt8.self))
        case .f8_e5m2: FloatBits.float(fromF8E5M2: source.load(fromByteOffset: index, as: UInt8.self))
        case .c64, .c128: preconditionFailure("complex values have no single real value")
        }
    }

    /// Element `index` of an integer (or bool) buffer, exactly.
    @inlinable
    static func loadInteger(_ source: UnsafeRawPointer, as dtype: DType, at index: Int) -> Int128 {
        switch dtype {
        case .bool: source.load(fromByteOffset: index, as: UInt8.self) != 0 ? 1 : 0
        case .u8: Int128(source.load(fromByteOffset: index, as: UInt8.self))
        case .i8: Int128(source.load(fromByteOffset: index, as: Int8.self))
        case .u16: Int128(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
        case .i16: Int128(source.loadUnaligned(fromByteOffset: 2 * index, as: Int16.self))
        case .u32: Int128(source.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self))
        case .i32: Int128(source.loadUnaligned(fromByteOffset: 4 * index, as: Int32.self))
        case .u64: Int128(source.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self))
        case .i64: Int128(source.loadUnaligned(fromByteOffset: 8 * index, as: Int64.self))
        default: preconditionFailure("\(dtype) is not an integer type")
        }
    }

    /// Stores `value` (which fits) as element `index` of an integer buffer of `dtype`.
    @inlinable
    static func storeInteger(_ value: Int128, as dtype: DType, into destination: UnsafeMutableRawPointer, at index: Int)
    {
        switch dtype {
        case .bool: destination.storeBytes(of: value != 0 ? 1 : 0, toByteOffset: index, as: UInt8.self)
        case .u8: destination.storeBytes(of: UInt8(value), toByteOffset: index, as: UInt8.self)
        case .i8: destination.storeBytes(of: Int8(value), toByteOffset: index, as: Int8.self)
        case .u16: destination.storeBytes(of: UInt16(value), toByteOffset: 2 * index, as: UInt16.self)
        case .i16: destination.storeBytes(of: Int16(value), toByteOffset: 2 * index, as: Int16.self)
        case .u32: destination.storeBytes(of: UInt32(value), toByteOffset: 4 * index, as: UInt32.self)
        case .i32: destination.storeBytes(of: Int32(value), toByteOffset: 4 * index, as: Int32.self)
        case .u64: destination.storeBytes(of: UInt64(value), toByteOffset: 8 * index, as: UInt64.self)
        case .i64: destination.storeBytes(of: Int64(value), toByteOffset: 8 * index, as: Int64.self)
        default: preconditionFailure("\(dtype) is not an integer type")
        }
    }

    /// Element `index` of a buffer of `dtype`, as f64 (exact for every dtype but 64-bit
    /// integers beyond 2^53).
    @inlinable
    public static func loadDouble(_ source: UnsafeRawPointer, as dtype: DType, at index: Int) -> Double {
        switch dtype {
        case .u32: Double(source.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self))
        case .i32: Double(source.loadUnaligned(fromByteOffset: 4 * index, as: Int32.self))
        case .u64: Double(source.loadUnaligned(fromByteOffset: 8 * index, as: UInt64.self))
        case .i64: Double(source.loadUnaligned(fromByteOffset: 8 * index, as: Int64.self))
        case .f64: source.loadUnaligned(fromByteOffset: 8 * index, as: Double.self)
        default: Double(loadFloat(source, as: dtype, at: index))
        }
    }

    /// Stores the f64 NaN `value` with its payload carried over bit-wise.
    @inlinable
    static func storeNaN(_ value: Double, as dtype: DType, into destination: UnsafeMutableRawPointer, at index: Int) {
        switch dtype {
        case .f16:
            destination.storeBytes(
                of: UInt16(FloatBits.encodeNaN(value, as: .f16)), toByteOffset: 2 * index, as: UInt16.self)
        case .f8_e4m3:
            destination.storeBytes(
                of: UInt8(FloatBits.encodeNaN(value, as: .e4m3fn)), toByteOffset: index, as: UInt8.self)
        case .f8_e5m2:
            destination.storeBytes(
                of: UInt8(FloatBits.encodeNaN(value, as: .e5m2)), toByteOffset: index, as: UInt8.self)
        default: store(Float(value), as: dtype, into: destination, at: index)
        }
    }

    /// Stores `value` as element `index` of a floating-point buffer of `dtype`.
    @inlinable
    static func store(_ value: Float, as dtype: DType, into destination: UnsafeMutableRawPointer, at index: Int) {
        switch dtype {
        case .f32: destination.storeBytes(of: value, toByteOffset: 4 * index, as: Float.self)
        case .f16: destination.storeBytes(of: FloatBits.f16(from: value), toByteOffset: 2 * index, as: UInt16.self)
        case .bf16: destination.storeBytes(of: FloatBits.bf16(from: value), toByteOffset: 2 * index, as: UInt16.self)
        case .f64: destination.storeBytes(of: Double(value), toByteOffset: 8 * index, as: Double.self)
        case .f8_e4m3: destination.storeBytes(of: FloatBits.f8E4M3(from: value), toByteOffset: index, as: UInt8.self)
        case .f8_e5m2: destination.storeBytes(of: FloatBits.f8E5M2(from: value), toByteOffset: index, as: UInt8.self)
        default: preconditionFailure("store into non-floating dtype \(dtype)")
        }
    }
}

extension ElementConversion {
    /// `values` in `dtype` (rounded to nearest even), in a new buffer. O(n).
    public static func region(_ values: [Float], as dtype: DType) -> ByteRegion {
        let output = OwnedBuffer(byteCount: values.count * dtype.byteWidth)
        values.withUnsafeBytes { bytes in
            convert(
                bytes, from: .f32, into: UnsafeMutableRawBufferPointer(start: output.pointer, count: output.byteCount),
                to: dtype, count: values.count)
        }
        return output.region
    }
}
