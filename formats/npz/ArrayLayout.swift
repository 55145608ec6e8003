import AmalgamCore

/// Turns the bytes of a stored array into Amalgam's row-major little-endian layout:
/// byte-swapping big-endian data, reordering Fortran (column-major) data, and transposing
/// Flax `[in, out]` kernels to `[out, in]`. Zero-copy when nothing needs changing.
enum ArrayLayout {
    /// Storage for an array whose stored bytes come from `load` (a mapped slice, a verified
    /// mapped slice or an inflated buffer). `shape` is the stored shape. When `load` is a
    /// plain mapped slice (`zeroCopy`), Fortran-order little-endian data stays zero-copy as
    /// column-major storage.
    static func storage(
        dtype: DType, shape: Shape, bigEndian: Bool, fortranOrder: Bool, transpose2D: Bool,
        load: TensorStorage, zeroCopy: ByteRegion? = nil
    ) -> TensorStorage {
        let fortran = fortranOrder && shape.rank > 1
        guard bigEndian || fortran || transpose2D else { return load }
        if fortran && !bigEndian && !transpose2D, let zeroCopy {
            return .columnMajor(zeroCopy, dimensions: shape.dimensions, width: dtype.byteWidth)
        }
        return .deferred {
            var region = try load.load()
            if bigEndian {
                region = ElementLayout.byteSwapped(
                    region, width: dtype.isComplex ? dtype.byteWidth / 2 : dtype.byteWidth)
            }
            if fortran {
                region = ElementLayout.columnMajorToRowMajor(region, shape: shape.dimensions, width: dtype.byteWidth)
            }
            if transpose2D {
                region = ElementLayout.transposed(
                    region, rows: shape.dimensions[0], columns: shape.dimensions[1], width: dtype.byteWidth)
            }
            return region
        }
    }
}

extension String {
    var replacingNUL: String { String(map { $0 == "\0" ? "␀" : $0 }) }
}
