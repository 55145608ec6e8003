/// Reordering of element buffers between storage layouts. O(count) with one copy.
public enum ElementLayout {
    /// Column-major bytes of an array of `shape` to row-major bytes of the same shape.
    public static func columnMajorToRowMajor(_ region: ByteRegion, shape: [Int], width: Int) -> ByteRegion {
        guard shape.reduce(1, *) > 0, shape.count > 1 else {
            let output = OwnedBuffer(byteCount: region.count)
            region.withUnsafeBytes { output.pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            return output.region
        }
        // Column-major strides (in elements) of each axis.
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in 1..<shape.count { strides[axis] = strides[axis - 1] * shape[axis - 1] }
        return gathered(region, offset: 0, shape: shape, strides: strides, width: width)
    }

    /// The row-major bytes of the strided view of `region` that starts at element `offset` and
    /// steps `strides[axis]` elements along each axis of `shape` (a PyTorch view, a column-major
    /// array). The caller checks that the view lies inside `region`.
    public static func gathered(
        _ region: ByteRegion, offset: Int, shape: [Int], strides: [Int], width: Int
    ) -> ByteRegion {
        let count = shape.reduce(1, *)
        let output = OwnedBuffer(byteCount: count * width)
        guard count > 0 else { return output.region }
        region.withUnsafeBytes { source in
            var index = [Int](repeating: 0, count: shape.count)
            var sourceElement = offset
            for element in 0..<count {
                (output.pointer + element * width).copyMemory(
                    from: source.baseAddress! + sourceElement * width, byteCount: width)
                // Advance the row-major odometer (last axis fastest), tracking the source offset.
                var axis = shape.count - 1
                while axis >= 0 {
                    index[axis] += 1
                    sourceElement += strides[axis]
                    if index[axis] < shape[axis] { break }
                    sourceElement -= strides[axis] * shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
        return output.region
    }

    /// Reverses the bytes of every `width`-byte element (big-endian data to little-endian;
    /// complex numbers pass the width of one half).
    public static func byteSwapped(_ region: ByteRegion, width: Int) -> ByteRegion {
        let output = OwnedBuffer(byteCount: region.count)
        region.withUnsafeBytes { source in
            let target = output.pointer
            for element in stride(from: 0, to: source.count, by: width) {
                for byte in 0..<width {
                    target.storeBytes(
                        of: source[element + width - 1 - byte], toByteOffset: element + byte, as: UInt8.self)
                }
            }
        }
        return output.region
    }

    /// The transpose of a row-major `rows x columns` matrix of `width`-byte elements.
    public static func transposed(_ region: ByteRegion, rows: Int, columns: Int, width: Int) -> ByteRegion {
        let output = OwnedBuffer(byteCount: region.count)
        region.withUnsafeBytes { source in
            // Blocks keep both sides in cache.
            let block = 32
            for rowStart in stride(from: 0, to: rows, by: block) {
                for columnStart in stride(from: 0, to: columns, by: block) {
                    for row in rowStart..<min(rowStart + block, rows) {
                        for column in columnStart..<min(columnStart + block, columns) {
                            (output.pointer + (column * rows + row) * width).copyMemory(
                                from: source.baseAddress! + (row * columns + column) * width, byteCount: width)
                        }
                    }
                }
            }
        }
        return output.region
    }
}
