import AmalgamCore
import CONNXProto
import CProtobufC

/// A TensorProto, decoded (values not yet read).
struct ONNXTensorProto {
    var name: String
    var dims: [Int64]
    var dataType: Int32
    var data: ONNXTensorData
}
