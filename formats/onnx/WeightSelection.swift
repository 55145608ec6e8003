import AmalgamCore

/// Which tensors of an ONNX file are weights: what `convert` and `merge` take by default.
/// Exporters also store shape constants, axes, epsilons and scales as initializers or Constant
/// nodes (`val_8`, `/model/.../Constant_12_output_0`); those are left out unless asked for
/// (`--keep-constants`).
///
/// A tensor is a weight when no node reads it (a weights-only file's data), when a node reads
/// it where operators take weights (MatMul's and
/// Gemm's operands, a convolution's kernel and bias, Gather's table, a normalisation's scale
/// and bias, a recurrent cell's matrices, a dequantisation's inputs), or when it is a
/// floating-point tensor of more than one element that a node reads anywhere (a bias added,
/// a position embedding, a CLS token concatenated). Scalars and integer tensors read anywhere
/// else are constants. Dequantised and sparse weights are always weights.
enum WeightSelection {
    /// Operators and the inputs at which they take weights.
    static let weightInputs: [String: Set<Int>] = [
        "MatMul": [0, 1], "Gemm": [0, 1, 2], "Conv": [1, 2], "ConvTranspose": [1, 2], "Gather": [0],
        "LayerNormalization": [1, 2], "SimplifiedLayerNormalization": [1], "RMSNormalization": [1],
        "SkipLayerNormalization": [2, 3, 4], "SkipSimplifiedLayerNormalization": [2, 3],
        "BatchNormalization": [1, 2, 3, 4], "InstanceNormalization": [1, 2], "GroupNormalization": [1, 2],
        "LSTM": [1, 2, 3, 5, 6, 7], "GRU": [1, 2, 3, 5], "RNN": [1, 2, 3, 5], "PRelu": [1],
        "MatMulInteger": [0, 1, 2, 3], "ConvInteger": [1, 3], "QLinearMatMul": [0, 1, 2, 3, 4, 5, 6, 7],
        "QLinearConv": [3, 4, 5, 8], "DequantizeLinear": [0, 1, 2], "EmbedLayerNormalization": [2, 3, 4, 5, 6, 7],
        "Attention": [1, 2],
    ]

    /// Every place a tensor name is read: (operator, input position), over the graph and
    /// its subgraphs (a subgraph may read the outer graph's tensors by name).
    static func readers(in graph: ONNXGraph) -> [String: [(op: String, input: Int)]] {
        var readers: [String: [(op: String, input: Int)]] = [:]
        func walk(_ graph: ONNXGraph) {
            for node in graph.nodes {
                for (position, input) in node.inputs.enumerated() where !input.isEmpty {
                    readers[input, default: []].append((node.opType, position))
                }
                for (_, subgraph) in node.subgraphs { walk(subgraph) }
            }
        }
        walk(graph)
        return readers
    }

    /// `encoder.layer.0.attention.self.query.weight`, `inner.embeddings.position_ids`: dotted
    /// identifiers, unlike an exporter's own names (`val_8`, `onnx::MatMul_12`,
    /// `/model/Constant_3_output_0`).
    static func isStateDictName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count > 1
            && parts.allSatisfy { part in
                !part.isEmpty && part.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
            }
    }

    /// True when `entry` is a weight, given where names are read.
    static func isWeight(_ entry: ONNXEntry, readers: [String: [(op: String, input: Int)]]) -> Bool {
        if entry.kind == .dequantized || entry.kind == .sparse { return true }
        // A state_dict name (a parameter or buffer such as `embeddings.position_ids`): a weight.
        if isStateDictName(entry.canonicalName) { return true }
        // Read by no node (a weights-only file, a tensor kept for later): data, not a constant.
        guard let sites = readers[entry.proto.name], !sites.isEmpty else { return true }
        if sites.contains(where: { weightInputs[$0.op]?.contains($0.input) == true }) { return true }
        return entry.dtype.isFloatingPoint && entry.storedShape.elementCount > 1
    }
}
