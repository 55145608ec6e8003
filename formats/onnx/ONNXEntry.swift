import AmalgamCore

#if canImport(Glibc)
    import Glibc
#endif

/// One tensor of an ONNX file: where it sits in the graph, its canonical name and layout,
/// and its bytes as stored.
struct ONNXEntry {
    enum Kind { case initializer, constant, sparse, dequantized }

    /// The name in the file, qualified for tensors inside subgraphs
    /// (`If_0.then_branch.weight`).
    var qualifiedName: String
    var kind: Kind
    /// Inside an If/Loop/Scan body rather than the main graph.
    var inSubgraph: Bool
    var canonicalName: String
    /// The file stores the transpose of the canonical tensor (a MatMul weight `[in, out]`).
    var transposed: Bool
    var proto: ONNXTensorProto
    var dtype: DType
    /// The shape as stored.
    var storedShape: Shape
    /// The bytes exactly as the file stores them (4-bit types packed two per byte; for sparse
    /// and dequantised entries, the values or quantised data they are computed from).
    var storedRegion: ByteRegion

    /// Sparse initializers and dequantised weights: computes the tensor's bytes when a
    /// writer asks for them.
    var densify: (@Sendable () throws -> ByteRegion)?

    /// The bytes row-major: as stored, 4-bit types unpacked to a byte each, computed for
    /// sparse and dequantised entries.
    var storage: TensorStorage {
        if let densify { return .deferred(densify) }
        guard ONNXDataType.isFourBit(proto.dataType) else { return .region(storedRegion) }
        let region = storedRegion
        let count = storedShape.elementCount
        let signed = proto.dataType == ONNXDataType.int4
        return .deferred { ONNXFile.unpackFourBit(region, count: count, signed: signed) }
    }

    /// The tensor in canonical form.
    var tensor: Tensor {
        guard transposed, storedShape.dimensions.count == 2 else {
            return Tensor(
                name: canonicalName, originalName: qualifiedName, shape: storedShape, encoding: .plain(dtype),
                storage: storage)
        }
        let (rows, columns) = (storedShape.dimensions[0], storedShape.dimensions[1])
        let source = storage
        let width = dtype.byteWidth
        return Tensor(
            name: canonicalName, originalName: qualifiedName, shape: Shape([columns, rows]), encoding: .plain(dtype),
            storage: .deferred {
                ElementLayout.transposed(try source.load(), rows: rows, columns: columns, width: width)
            })
    }
}
