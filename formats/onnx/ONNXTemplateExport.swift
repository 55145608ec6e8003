import AmalgamCore

/// `convert MODEL out.onnx --template BASE.onnx`: the template's bytes with every
/// initializer (and Constant tensor) whose canonical name the graph has replaced by the
/// graph's tensor, transposed back where the template stores it transposed. Everything else
/// (nodes, inputs, outputs, attributes, metadata) is copied verbatim from the mapped
/// template, so onnxruntime runs the result exactly like the template, with new weights.
///
/// Template tensors the graph lacks keep their values; graph tensors the template has no
/// place for are reported in `warnings`. A shape or dtype that differs is an error.
struct ONNXTemplateExport {
    let template: ONNXFile
    /// Per qualified template name: the bytes to write, as stored.
    private let replacements: [String: ONNXPayload]
    let warnings: [String]

    init(templatePath: String, graph: ModelGraph) throws {
        template = try ONNXFile(path: templatePath)
        var replacements: [String: ONNXPayload] = [:]
        var used = Set<String>()
        var kept: [String] = []
        for entry in template.entries {
            // Sparse initializers are copied as the template stores them, and so are quantised
            // weights (the dequantised view has no place of its own in the file).
            guard entry.kind != .sparse, entry.kind != .dequantized, let tensor = graph[entry.canonicalName] else {
                kept.append(entry.qualifiedName)
                continue
            }
            let expected = entry.tensor
            guard tensor.encoding == .plain(entry.dtype) else {
                throw AmalgamError(
                    .mismatch,
                    "is \(tensor.encoding), the template '\(templatePath)' stores '\(entry.qualifiedName)' as \(entry.dtype)\(tensor.encoding.dtype?.isFloatingPoint == true ? " (use --dtype \(entry.dtype))" : "")",
                    tensor: tensor.name)
            }
            guard !ONNXDataType.isFourBit(entry.proto.dataType) else {
                throw AmalgamError(
                    .unsupported,
                    "replacing the template's \(ONNXDataType.name(entry.proto.dataType)) tensor '\(entry.qualifiedName)' is not supported",
                    tensor: tensor.name)
            }
            guard tensor.shape == expected.shape else {
                throw AmalgamError(
                    .mismatch,
                    "has shape \(tensor.shape), the template '\(templatePath)' has \(expected.shape) for '\(entry.qualifiedName)'",
                    tensor: tensor.name)
            }
            used.insert(tensor.name)
            let count = try tensor.byteCount
            let transpose = entry.transposed && tensor.shape.dimensions.count == 2
            let dims = tensor.shape.dimensions
            let width = entry.dtype.byteWidth
            let name = tensor.name
            replacements[entry.qualifiedName] =
                transpose
                ? ONNXPayload(tensorName: name, count: count) { graph, write in
                    // A transposed matrix is written whole: its rows are the tensor's columns.
                    let bytes = try graph[name]!.loadBytes()
                    try write(ElementLayout.transposed(bytes, rows: dims[0], columns: dims[1], width: width))
                }
                : ONNXPayload(tensorName: name, count: count)
        }
        self.replacements = replacements
        var warnings: [String] = []
        let unused = graph.tensors.map(\.name).filter { !used.contains($0) }
        if !unused.isEmpty {
            warnings.append(
                "\(unused.count) tensor(s) have no place in the template and are left out: \(Self.list(unused))")
        }
        if !kept.isEmpty {
            warnings.append(
                "\(kept.count) template tensor(s) are not in the model and keep the template's values: \(Self.list(kept))"
            )
        }
        self.warnings = warnings
    }

    private static func list(_ names: [String]) -> String {
        names.prefix(5).joined(separator: ", ") + (names.count > 5 ? ", ..." : "")
    }

    /// The names of the graph tensors that replace template tensors.
    var replacingNames: Set<String> { Set(replacements.values.map(\.tensorName)) }

    /// The output ModelProto's parts: the template's fields, its graph rewritten.
    func assemble(_ placement: ONNXDataPlacement) throws -> [ProtoPart] {
        try template.file.region.withUnsafeBytes { bytes in
            var rewriter = Rewriter(
                bytes: bytes, region: template.file.region, path: template.path, template: template,
                replacements: replacements, placement: placement)
            return try rewriter.model()
        }
    }

    /// Walks the template's wire bytes along the paths where tensors live: ModelProto.graph,
    /// GraphProto.initializer and .node, NodeProto.attribute, AttributeProto.t/.g/.graphs.
    private struct Rewriter {
        let bytes: UnsafeRawBufferPointer
        let region: ByteRegion
        let path: String
        let template: ONNXFile
        let replacements: [String: ONNXPayload]
        let placement: ONNXDataPlacement
        /// Qualified names, for the tensors stored as found.
        let entries: [String: ONNXEntry]

        init(
            bytes: UnsafeRawBufferPointer, region: ByteRegion, path: String, template: ONNXFile,
            replacements: [String: ONNXPayload], placement: ONNXDataPlacement
        ) {
            self.bytes = bytes
            self.region = region
            self.path = path
            self.template = template
            self.replacements = replacements
            self.placement = placement
            self.entries = Dictionary(
                template.entries.map { ($0.qualifiedName, $0) }, uniquingKeysWith: { first, _ in first })
        }

        private func slice(_ field: WireField) -> ProtoPart {
            .slice(region.slice(offset: field.start, count: field.end - field.start))
        }

        private func fields(_ range: Range<Int>) throws -> [WireField] {
            var reader = WireReader(bytes, range: range, path: path)
            var fields: [WireField] = []
            while !reader.isAtEnd { fields.append(try reader.field()) }
            return fields
        }

        private func text(_ field: WireField) -> String {
            WireReader(bytes, range: field.payload, path: path).string(field)
        }

        mutating func model() throws -> [ProtoPart] {
            try fields(0..<bytes.count).map { field in
                field.number == 7 && field.type == .lengthDelimited
                    ? .message(field: 7, try graph(field.payload, prefix: "")) : slice(field)
            }
        }

        private func graph(_ range: Range<Int>, prefix: String) throws -> [ProtoPart] {
            var nodeIndex = 0
            return try fields(range).map { field in
                switch (field.number, field.type) {
                case (5, .lengthDelimited):
                    let name = try fields(field.payload).last { $0.number == 8 }.map(text) ?? ""
                    return .message(field: 5, try tensor(field.payload, qualifiedName: prefix + name))
                case (1, .lengthDelimited):
                    defer { nodeIndex += 1 }
                    return .message(field: 1, try node(field.payload, index: nodeIndex, prefix: prefix))
                default:
                    return slice(field)
                }
            }
        }

        private func node(_ range: Range<Int>, index: Int, prefix: String) throws -> [ProtoPart] {
            let all = try fields(range)
            let name = all.last { $0.number == 3 }.map(text) ?? ""
            let opType = all.last { $0.number == 4 }.map(text) ?? ""
            let firstOutput = all.first { $0.number == 2 }.map(text) ?? ""
            let label = ONNXNode.label(name: name, opType: opType, index: index)
            return try all.map { field in
                guard field.number == 5, field.type == .lengthDelimited else { return slice(field) }
                return .message(
                    field: 5,
                    try attribute(
                        field.payload, label: label, constantName: opType == "Constant" ? firstOutput : nil,
                        prefix: prefix))
            }
        }

        private func attribute(_ range: Range<Int>, label: String, constantName: String?, prefix: String) throws
            -> [ProtoPart]
        {
            let all = try fields(range)
            let name = all.last { $0.number == 1 }.map(text) ?? ""
            var graphIndex = 0
            return try all.map { field in
                switch (field.number, field.type) {
                case (5, .lengthDelimited) where constantName != nil && name == "value":
                    return .message(field: 5, try tensor(field.payload, qualifiedName: prefix + constantName!))
                case (6, .lengthDelimited):
                    return .message(field: 6, try graph(field.payload, prefix: prefix + "\(label).\(name)."))
                case (11, .lengthDelimited):
                    defer { graphIndex += 1 }
                    return .message(
                        field: 11, try graph(field.payload, prefix: prefix + "\(label).\(name)[\(graphIndex)]."))
                default:
                    return slice(field)
                }
            }
        }

        /// A TensorProto with its data fields replaced: the new tensor, or the template's own
        /// bytes (so data the template kept externally is carried into the output).
        private func tensor(_ range: Range<Int>, qualifiedName: String) throws -> [ProtoPart] {
            let payload: ONNXPayload
            if let replacement = replacements[qualifiedName] {
                payload = replacement
            } else if let entry = entries[qualifiedName] {
                let stored = entry.storedRegion
                payload = ONNXPayload(tensorName: qualifiedName, region: stored)
            } else {
                // Not a tensor Amalgam reads (an integer Constant): copied as it is.
                return try fields(range).map(slice)
            }
            let dataFields: Set<UInt64> = [4, 5, 6, 7, 9, 10, 11, 13, 14]
            var parts = try fields(range).filter { !dataFields.contains($0.number) }.map(slice)
            parts += placement.dataFields(payload)
            return parts
        }
    }
}
