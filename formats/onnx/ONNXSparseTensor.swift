import AmalgamCore
import CONNXProto
import CProtobufC

/// A `SparseTensorProto`: `values` (1-D, one per stored element, named as the tensor),
/// `indices` (INT64: `[nnz]` linear positions or `[nnz, rank]` coordinates) and the dense dims.
struct ONNXSparseTensor {
    var values: ONNXTensorProto
    var indices: ONNXTensorProto
    var dims: [Int64]
}
