import AmalgamCore

/// Applies `GGUFTensorTransform`s to tensor bytes in either direction.
///
/// The rotary permutation moves whole rows, so it works on quantised blocks without
/// decoding them (a row is a whole number of blocks); the others work on values.
enum TensorTransforms {
    /// Source row of each destination row. Hugging Face keeps each head's rotary halves
    /// apart (row h*d + j*d/2 + i); GGUF interleaves them (row h*d + 2i + j).
    static func rotarySourceRows(rows: Int, heads: Int, toGGUF: Bool) throws(AmalgamError) -> [Int] {
        guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else {
            throw AmalgamError(
                .invalidFormat,
                "\(rows) rows cannot be split into \(heads) heads of an even size for the rotary permutation")
        }
        let headSize = rows / heads
        let half = headSize / 2
        var source = [Int](repeating: 0, count: rows)
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let huggingFace = h * headSize + j * half + i
                    let gguf = h * headSize + 2 * i + j
                    if toGGUF { source[gguf] = huggingFace } else { source[huggingFace] = gguf }
                }
            }
        }
        return source
    }

    /// `bytes` with its rows (the outermost axis) reordered.
    static func permutingRows(_ bytes: ByteRegion, rows: Int, heads: Int, toGGUF: Bool) throws(AmalgamError)
        -> ByteRegion
    {
        let source = try rotarySourceRows(rows: rows, heads: heads, toGGUF: toGGUF)
        let rowBytes = bytes.count / rows
        let output = OwnedBuffer(byteCount: bytes.count)
        bytes.withUnsafeBytes { input in
            for (destination, row) in source.enumerated() {
                (output.pointer + destination * rowBytes).copyMemory(
                    from: input.baseAddress! + row * rowBytes, byteCount: rowBytes)
            }
        }
        return output.region
    }

    /// Values of a tensor after the value-changing transforms (transpose, add or
    /// subtract one), as f32.
    static func transformedValues(_ values: [Float], shape: Shape, transform: GGUFTensorTransform, toGGUF: Bool)
        -> [Float]
    {
        switch transform {
        case .addOne:
            var shifted = values
            shifted.withUnsafeMutableBufferPointer { addOne($0, toGGUF: toGGUF) }
            return shifted
        case .transpose:
            let rows = shape.dimensions.first ?? 1
            let columns = shape.elementCount / max(rows, 1)
            var result = [Float](repeating: 0, count: values.count)
            for r in 0..<rows {
                for c in 0..<columns { result[c * rows + r] = values[r * columns + c] }
            }
            return result
        case .none, .rotaryPermutation:
            return values
        }
    }

    /// `.addOne`'s shift in place: `+ 1` towards GGUF, `- 1` back.
    static func addOne(_ values: UnsafeMutableBufferPointer<Float>, toGGUF: Bool) {
        for i in values.indices { values[i] = toGGUF ? values[i] + 1 : values[i] - 1 }
    }

    /// The shape after `transform` (transpose reverses a 2-D shape).
    static func shape(_ shape: Shape, after transform: GGUFTensorTransform) -> Shape {
        transform == .transpose && shape.dimensions.count == 2 ? Shape(shape.dimensions.reversed()) : shape
    }

    /// f32 values as a byte region.
    static func region(of values: [Float]) -> ByteRegion {
        let output = OwnedBuffer(byteCount: values.count * 4)
        values.withUnsafeBytes {
            if let base = $0.baseAddress { output.pointer.copyMemory(from: base, byteCount: $0.count) }
        }
        return output.region
    }
}
