import AmalgamCore

/// A tensor's bytes as numpy will see them, produced in blocks (`forEachBlock`): a member of
/// any size is written holding one block, not the array.
struct NPYArray {
    var descr: String
    var shape: [Int]
    /// Bytes of the array's data.
    var byteCount: Int
    /// True when the bytes are column-major (passed through from a Fortran-order source).
    var fortranOrder = false
    /// The dtype to record in the sidecar when the bytes are raw bit patterns.
    var recordedDType: DType?
    /// True when a dtype numpy lacks was converted to f32.
    var widened = false
    private let tensor: Tensor
    private let transposeBack: Bool

    static func encode(_ tensor: Tensor, transposeBack: Bool, keepDType: Bool) throws -> NPYArray {
        guard let dtype = tensor.encoding.dtype else {
            throw AmalgamError(
                .unsupported,
                "is \(tensor.encoding)-quantised; npz stores plain dtypes: add --dtype f32, f16 or bf16 to decode it")
        }
        var shape = tensor.shape.dimensions
        if transposeBack { shape = [shape[1], shape[0]] }
        // Column-major sources pass through as they are (no copy), unless they need transposing.
        let fortranOrder = !transposeBack && tensor.storage.storedOrder == .columnMajor
        var array = NPYArray(
            descr: "", shape: shape, byteCount: try tensor.byteCount, fortranOrder: fortranOrder, tensor: tensor,
            transposeBack: transposeBack)
        if let descr = NPYHeader.descr(for: dtype) {
            array.descr = descr
        } else if keepDType {
            array.descr = dtype.byteWidth == 2 ? "<u2" : "|u1"
            array.recordedDType = dtype
        } else {
            array.descr = "<f4"
            array.byteCount = tensor.shape.elementCount * 4
            array.widened = true
        }
        return array
    }

    /// Calls `body` with consecutive blocks of the data, in order. A Flax kernel transposed back
    /// is produced whole (a transpose moves every value across rows).
    func forEachBlock(_ body: (ByteRegion) throws -> Void) throws {
        let dtype = tensor.encoding.dtype!
        let widen: (ByteRegion) -> ByteRegion = { bytes in
            guard widened else { return bytes }
            let count = bytes.count / dtype.byteWidth
            let output = OwnedBuffer(byteCount: count * 4)
            bytes.withUnsafeBytes { source in
                ElementConversion.convert(
                    source, from: dtype,
                    into: UnsafeMutableRawBufferPointer(start: output.pointer, count: output.byteCount), to: .f32,
                    count: count)
            }
            return output.region
        }
        if transposeBack {
            let dimensions = tensor.shape.dimensions
            let bytes = ElementLayout.transposed(
                try tensor.loadBytes(), rows: dimensions[0], columns: dimensions[1], width: dtype.byteWidth)
            return try body(widen(bytes))
        }
        if fortranOrder {
            // Mapped column-major bytes: slices of whole elements, released once written.
            let (view, _) = try tensor.loadView()
            let step = max(dtype.byteWidth, Tensor.streamingBlockBytes / dtype.byteWidth * dtype.byteWidth)
            var offset = 0
            repeat {
                let slice = view.slice(offset: offset, count: min(step, view.count - offset))
                try body(widen(slice))
                slice.releaseResidentPages()
                offset += slice.count
            } while offset < view.count
            return
        }
        try tensor.forEachRowBlock { _, block in
            try body(widen(block))
            block.releaseResidentPages()
        }
    }
}
