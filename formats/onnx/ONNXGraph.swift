import AmalgamCore
import CONNXProto
import CProtobufC

struct ONNXGraph {
    var name: String
    var nodes: [ONNXNode]
    var initializers: [ONNXTensorProto]
    var sparseInitializers: [ONNXSparseTensor] = []
}
