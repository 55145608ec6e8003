import AmalgamCore
import CONNXProto
import CProtobufC

struct ONNXNode {
    var name: String
    var opType: String
    var inputs: [String]
    var outputs: [String]
    /// Integer attributes by name (`transB`...).
    var integers: [String: Int64]
    /// The `value` of a Constant node.
    var constant: ONNXTensorProto?
    /// Graph-valued attributes (If/Loop/Scan bodies): attribute name (with `[i]` for the
    /// elements of a `graphs` list) and the graph.
    var subgraphs: [(attribute: String, graph: ONNXGraph)]

    /// The node's name, or `op_type` + position when it has none, to qualify subgraph names.
    func label(index: Int) -> String { Self.label(name: name, opType: opType, index: index) }

    static func label(name: String, opType: String, index: Int) -> String { name.isEmpty ? "\(opType)_\(index)" : name }
}
