import AmalgamCore

/// The nodes a weights-only ONNX output computes with, so the file runs in onnxruntime: the
/// graph's tensors stay initializers under their own names and the nodes refer to them.
/// Amalgam writes such graphs for models it builds itself (the zoo's MLPs); `--template`
/// covers every other model.
public struct ONNXComputation: Sendable, Equatable {
    /// A dimension of a graph input or output: fixed, or named (a batch of any size).
    public enum Dimension: Sendable, Equatable {
        case fixed(Int)
        case named(String)
    }

    /// A float32 graph input or output.
    public struct Value: Sendable, Equatable {
        public var name: String
        public var dimensions: [Dimension]

        public init(name: String, dimensions: [Dimension]) {
            self.name = name
            self.dimensions = dimensions
        }
    }

    /// A node attribute's value (the kinds the built-in graphs use).
    public enum Attribute: Sendable, Equatable {
        case int(Int)
        case float(Float)
        case ints([Int])
    }

    /// One operator of the default domain.
    public struct Node: Sendable, Equatable {
        public var opType: String
        public var inputs: [String]
        public var outputs: [String]
        public var attributes: [(name: String, value: Attribute)]

        public init(_ opType: String, inputs: [String], outputs: [String], attributes: [(String, Attribute)] = []) {
            self.opType = opType
            self.inputs = inputs
            self.outputs = outputs
            self.attributes = attributes.map { (name: $0.0, value: $0.1) }
        }

        public static func == (lhs: Node, rhs: Node) -> Bool {
            lhs.opType == rhs.opType && lhs.inputs == rhs.inputs && lhs.outputs == rhs.outputs
                && lhs.attributes.map(\.name) == rhs.attributes.map(\.name)
                && lhs.attributes.map(\.value) == rhs.attributes.map(\.value)
        }
    }

    public var nodes: [Node]
    public var inputs: [Value]
    public var outputs: [Value]
    /// The default domain's opset the nodes are written for.
    public var opset: Int

    public init(nodes: [Node], inputs: [Value], outputs: [Value], opset: Int) {
        self.nodes = nodes
        self.inputs = inputs
        self.outputs = outputs
        self.opset = opset
    }

    /// Checks every node input is a graph input, an initializer of `graph` or an earlier
    /// node's output, and every graph output is computed.
    func check(against graph: ModelGraph) throws {
        var known = Set(inputs.map(\.name))
        for (index, node) in nodes.enumerated() {
            for input in node.inputs where !input.isEmpty && !known.contains(input) && graph[input] == nil {
                throw AmalgamError(
                    .mismatch, "ONNX node \(index) (\(node.opType)) reads '\(input)', which nothing provides")
            }
            known.formUnion(node.outputs)
        }
        for output in outputs where !known.contains(output.name) {
            throw AmalgamError(.mismatch, "the ONNX graph output '\(output.name)' is computed by no node")
        }
    }

    /// GraphProto fields: `node` (1) for each node.
    var nodeParts: [ProtoPart] {
        nodes.enumerated().map { index, node in
            var fields = node.inputs.map { ProtoPart.stringField(1, $0) }
            fields += node.outputs.map { ProtoPart.stringField(2, $0) }
            fields.append(.stringField(3, "\(node.opType.lowercased())_\(index)"))
            fields.append(.stringField(4, node.opType))
            for (name, value) in node.attributes { fields.append(.message(field: 5, Self.attribute(name, value))) }
            return .message(field: 1, fields)
        }
    }

    /// GraphProto fields: `input` (11) and `output` (12).
    var valueParts: [ProtoPart] {
        inputs.map { .message(field: 11, Self.valueInfo($0)) } + outputs.map { .message(field: 12, Self.valueInfo($0)) }
    }

    /// AttributeProto: name (1), f (2, fixed32), i (3), ints (8), type (20).
    private static func attribute(_ name: String, _ value: Attribute) -> [ProtoPart] {
        var fields: [ProtoPart] = [.stringField(1, name)]
        switch value {
        case .float(let f):
            var bytes: [UInt8] = []
            WireEncoding.key(2, .fixed32, into: &bytes)
            bytes += withUnsafeBytes(of: f.bitPattern.littleEndian, Array.init)
            fields.append(.bytes(bytes))
            fields.append(.varintField(20, 1))
        case .int(let i):
            fields.append(.varintField(3, UInt64(bitPattern: Int64(i))))
            fields.append(.varintField(20, 2))
        case .ints(let values):
            fields += values.map { .varintField(8, UInt64(bitPattern: Int64($0))) }
            fields.append(.varintField(20, 7))
        }
        return fields
    }

    /// ValueInfoProto: name (1), type (2) = TypeProto.tensor_type (1): elem_type (1) FLOAT,
    /// shape (2) of dims (1) with dim_value (1) or dim_param (2).
    private static func valueInfo(_ value: Value) -> [ProtoPart] {
        let dims: [ProtoPart] = value.dimensions.map { dimension in
            switch dimension {
            case .fixed(let size): .message(field: 1, [.varintField(1, UInt64(size))])
            case .named(let name): .message(field: 1, [.stringField(2, name)])
            }
        }
        return [
            .stringField(1, value.name),
            .message(field: 2, [.message(field: 1, [.varintField(1, 1), .message(field: 2, dims)])]),
        ]
    }
}
