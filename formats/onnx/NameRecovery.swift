/// Recovers canonical (PyTorch state_dict) names for the tensors of an ONNX graph.
///
/// TorchScript exports keep state_dict names for most initializers, but constant folding
/// stores a Linear weight that feeds a MatMul pre-transposed, `[in, out]`, under a name like
/// `onnx::MatMul_470`. The node consuming it, `/encoder/layer.0/attention/self/query/MatMul`,
/// names the layer. Recovery:
/// - a name that already is a state_dict name stays (and keeps its layout);
/// - a 2-D initializer read as MatMul's B becomes `<layer>.weight`, transposed to `[out, in]`;
///   as Gemm's B it keeps its layout with `transB=1` and is transposed with `transB=0`;
///   a 1-D one read as Gemm's C or by an Add becomes `<layer>.bias`;
/// - `<layer>` is the node's path without its last component, dots for slashes, with leading
///   components dropped until it lines up with the graph's own state_dict names (exporters
///   often add the wrapper module's attribute: `/model/model.0/...` for `model.0....`); a node
///   without a path is named by the `<layer>.bias` an Add puts on its output;
/// - a wrapper prefix shared by every state_dict name (`inner.`, `module.`, `_orig_mod.`,
///   sentence-transformers' `model.0.auto_model.` or `0.auto_model.`) is removed.
/// Names that would collide keep their original spelling.
enum NameRecovery {
    struct Recovered: Equatable {
        var canonical: String
        /// The stored tensor is the transpose of the canonical one.
        var transposed: Bool
    }

    struct Result {
        var names: [String: Recovered]
        /// The wrapper prefix removed (with its trailing dot), if any.
        var removedPrefix: String?
        /// How many tensors were renamed through the graph.
        var renamedThroughGraph: Int
    }

    /// True for dotted identifiers such as `encoder.layer.0.attention.self.query.bias`.
    static func isStateDictName(_ name: String) -> Bool {
        guard !name.hasPrefix("onnx::"), name.contains(".") else { return false }
        let components = name.split(separator: ".", omittingEmptySubsequences: false)
        return components.allSatisfy { component in
            !component.isEmpty
                && component.utf8.allSatisfy { byte in
                    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                        || byte == 0x5F
                }
        }
    }

    /// - Parameters:
    ///   - tensors: the top-level graph's tensor names with their ranks, in file order.
    static func recover(graph: ONNXGraph, tensors: [(name: String, rank: Int)]) -> Result {
        var consumers: [String: [(node: ONNXNode, input: Int)]] = [:]
        for node in graph.nodes {
            for (index, input) in node.inputs.enumerated() where !input.isEmpty {
                consumers[input, default: []].append((node, index))
            }
        }
        let stateDictNames = Set(tensors.map(\.name).filter(isStateDictName))
        var used = Set(tensors.map(\.name))
        var names: [String: Recovered] = [:]
        var renamed = 0
        for (name, rank) in tensors {
            var recovered = Recovered(canonical: name, transposed: false)
            if !isStateDictName(name),
                let proposal = proposal(
                    for: name, rank: rank, consumers: consumers[name] ?? [], stateDictNames: stateDictNames,
                    allConsumers: consumers),
                !used.contains(proposal.canonical)
            {
                used.insert(proposal.canonical)
                recovered = proposal
                renamed += 1
            }
            names[name] = recovered
        }

        // A wrapper prefix common to every state_dict name.
        let dotted = names.values.map(\.canonical).filter(isStateDictName)
        var removedPrefix: String?
        if let prefix = wrapperPrefix(of: dotted) {
            let stripped = names.mapValues { value -> Recovered in
                var value = value
                if value.canonical.hasPrefix(prefix) { value.canonical.removeFirst(prefix.count) }
                return value
            }
            if Set(stripped.values.map(\.canonical)).count == stripped.count {
                names = stripped
                removedPrefix = prefix
            }
        }
        return Result(names: names, removedPrefix: removedPrefix, renamedThroughGraph: renamed)
    }

    private static func proposal(
        for name: String, rank: Int, consumers: [(node: ONNXNode, input: Int)], stateDictNames: Set<String>,
        allConsumers: [String: [(node: ONNXNode, input: Int)]]
    ) -> Recovered? {
        for (node, input) in consumers {
            // Node names without a path (dynamo exports): the layer whose bias is added to
            // the product names it.
            func biasLayer() -> String? {
                (node.outputs.first.flatMap { allConsumers[$0] } ?? [])
                    .filter { $0.node.opType == "Add" }
                    .flatMap(\.node.inputs)
                    .first { $0.hasSuffix(".bias") && stateDictNames.contains($0) }
                    .map { String($0.dropLast(".bias".count)) }
            }
            guard let layer = layerPath(of: node.name, stateDictNames: stateDictNames) ?? biasLayer() else { continue }
            switch (node.opType, input, rank) {
            case ("MatMul", 1, 2):
                return Recovered(canonical: layer + ".weight", transposed: true)
            case ("Gemm", 1, 2):
                return Recovered(canonical: layer + ".weight", transposed: (node.integers["transB"] ?? 0) == 0)
            case ("Gemm", 2, 1), ("Add", _, 1):
                return Recovered(canonical: layer + ".bias", transposed: false)
            default:
                continue
            }
        }
        return nil
    }

    /// `/model/model.0/auto_model/encoder/layer.0/attention/self/query/MatMul` ->
    /// `model.0.auto_model.encoder.layer.0.attention.self.query` when the graph has names
    /// under that path, else the whole path.
    static func layerPath(of nodeName: String, stateDictNames: Set<String>) -> String? {
        guard nodeName.hasPrefix("/") else { return nil }
        var components = nodeName.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard components.count >= 2, components.allSatisfy({ !$0.isEmpty }) else { return nil }
        components.removeLast()
        let full = components.joined(separator: ".")
        guard isStateDictName(full + ".weight") else { return nil }
        var candidate = components[...]
        while !candidate.isEmpty {
            let path = candidate.joined(separator: ".") + "."
            if stateDictNames.contains(where: { $0.hasPrefix(path) }) { return String(path.dropLast()) }
            candidate = candidate.dropFirst()
        }
        return full
    }

    /// The wrapper prefix (with its dot) that every name starts with, if it is a known one.
    static func wrapperPrefix(of names: [String]) -> String? {
        guard let first = names.first else { return nil }
        var common = first.split(separator: ".").map(String.init)
        for name in names.dropFirst() {
            let components = name.split(separator: ".")
            var length = 0
            while length < min(common.count, components.count - 1), common[length] == components[length] { length += 1 }
            common = Array(common.prefix(length))
            if common.isEmpty { return nil }
        }
        if names.count == 1 { common = Array(common.dropLast()) }
        func isNumber(_ text: String) -> Bool { !text.isEmpty && text.allSatisfy(\.isNumber) }
        // The longest known wrapper that the common prefix starts with.
        for length in stride(from: common.count, through: 1, by: -1) {
            let prefix = Array(common.prefix(length))
            let known: Bool
            switch prefix.count {
            case 1: known = ["inner", "module", "_orig_mod"].contains(prefix[0])
            case 2: known = isNumber(prefix[0]) && prefix[1] == "auto_model"
            case 3: known = prefix[0] == "model" && isNumber(prefix[1]) && prefix[2] == "auto_model"
            default: known = false
            }
            if known { return prefix.joined(separator: ".") + "." }
        }
        return nil
    }
}
