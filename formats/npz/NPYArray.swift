import AmalgamCore

/// A tensor's bytes as numpy will see them.
struct NPYArray {
    var descr: String
    var shape: [Int]
    var bytes: ByteRegion
    /// True when `bytes` are column-major (passed through from a Fortran-order source).
    var fortranOrder = false
    /// The dtype to record in the sidecar when the bytes are raw bit patterns.
    var recordedDType: DType?
    /// True when a dtype numpy lacks was converted to f32.
    var widened = false

    static func encode(_ tensor: Tensor, transposeBack: Bool, keepDType: Bool) throws -> NPYArray {
        guard let dtype = tensor.encoding.dtype else {
            throw AmalgamError(
                .unsupported,
                "is \(tensor.encoding)-quantised; npz stores plain dtypes: add --dtype f32, f16 or bf16 to decode it")
        }
        var shape = tensor.shape.dimensions
        // Column-major sources pass through as they are (no copy), unless they need transposing.
        let (view, order) = transposeBack ? (try tensor.loadBytes(), .rowMajor) : try tensor.loadView()
        var bytes = view
        let fortranOrder = order == .columnMajor
        if transposeBack {
            bytes = ElementLayout.transposed(bytes, rows: shape[0], columns: shape[1], width: dtype.byteWidth)
            shape = [shape[1], shape[0]]
        }
        if let descr = NPYHeader.descr(for: dtype) {
            return NPYArray(descr: descr, shape: shape, bytes: bytes, fortranOrder: fortranOrder)
        }
        if keepDType {
            return NPYArray(
                descr: dtype.byteWidth == 2 ? "<u2" : "|u1", shape: shape, bytes: bytes, fortranOrder: fortranOrder,
                recordedDType: dtype)
        }
        let count = tensor.shape.elementCount
        let output = OwnedBuffer(byteCount: count * 4)
        bytes.withUnsafeBytes { source in
            ElementConversion.convert(
                source, from: dtype,
                into: UnsafeMutableRawBufferPointer(start: output.pointer, count: output.byteCount), to: .f32,
                count: count)
        }
        return NPYArray(descr: "<f4", shape: shape, bytes: output.region, fortranOrder: fortranOrder, widened: true)
    }
}
