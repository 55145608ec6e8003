import AmalgamCore

/// Plans ONNX files: a weights-only model (every tensor an initializer of a graph without
/// nodes), or, with `--template BASE.onnx`, the template's graph with its initializers
/// replaced by the graph's tensors (see `ONNXTemplateExport`).
struct ONNXWriter {
    let graph: ModelGraph
    let options: ONNXWriterOptions

    /// Builds the model's top-level parts for a given data placement.
    typealias Assembly = (ONNXDataPlacement) throws -> [ProtoPart]

    func plan(to path: String) throws -> ONNXWritePlan {
        let assembly: Assembly
        var warnings: [String] = []
        var written: Set<String>?
        if let template = options.template {
            let export = try ONNXTemplateExport(templatePath: template, graph: graph)
            warnings = export.warnings
            assembly = export.assemble
            written = export.replacingNames
        } else {
            assembly = try weightsOnly()
        }
        let dataName = FileSystem.baseName(of: path) + ".data"
        var placement = ONNXDataPlacement(externalFileName: options.externalData ? dataName : nil)
        var parts = try assembly(placement)
        if placement.externalFileName == nil, parts.reduce(0, { $0 + $1.size }) > options.inlineLimit {
            warnings.insert("the model exceeds protobuf's 2 GiB limit: tensor data goes to \(dataName)", at: 0)
            placement = ONNXDataPlacement(externalFileName: dataName)
            parts = try assembly(placement)
        }
        let positions = Dictionary(
            graph.tensors.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        return ONNXWritePlan(
            path: path, dataPath: placement.externalFileName.map { FileSystem.folder(of: path) + "/" + $0 },
            parts: parts, external: placement.externalPayloads, warnings: warnings,
            loadOrder: placement.loadOrder.filter { written?.contains($0) ?? true }.compactMap { positions[$0] },
            inputs: options.template.map { [$0] } ?? [],
            tensorBytes: graph.tensors.reduce(0) { $0 + ((try? $1.byteCount) ?? 0) })
    }

    /// A model whose graph has the tensors as initializers and no nodes, with the lowest IR
    /// version their dtypes allow (4 at least: IR 3 requires every initializer to be a graph
    /// input as well) and that version's newest opset.
    private func weightsOnly() throws -> Assembly {
        var planned: [(tensor: Tensor, dtype: DType, count: Int)] = []
        var irVersion: Int64 = 4
        for tensor in graph.tensors {
            guard let dtype = tensor.encoding.dtype else {
                throw AmalgamError(
                    .unsupported,
                    "is \(tensor.encoding)-quantised; ONNX initializers hold plain dtypes: add --dtype f32, f16 or bf16 to decode it",
                    tensor: tensor.name)
            }
            irVersion = max(irVersion, ONNXDataType.minimumIRVersion(for: dtype))
            planned.append((tensor, dtype, try tensor.byteCount))
        }
        let computation = options.computation
        try computation?.check(against: graph)
        if let computation { irVersion = max(irVersion, ONNXDataType.minimumIRVersion(forOpset: computation.opset)) }
        let metadata = graph.metadata
        let graphName = metadata["onnx.graph_name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "amalgam"
        return { [planned, irVersion, computation] placement in
            var graphParts: [ProtoPart] = (computation?.nodeParts ?? []) + [.stringField(2, graphName)]
            for (tensor, dtype, count) in planned {
                var fields = tensor.shape.dimensions.map { ProtoPart.varintField(1, UInt64($0)) }
                fields.append(.varintField(2, UInt64(ONNXDataType.code(for: dtype))))
                fields.append(.stringField(8, tensor.name))
                let name = tensor.name
                fields += placement.dataFields(ONNXPayload(tensorName: name, count: count))
                graphParts.append(.message(field: 5, fields))
            }
            graphParts += computation?.valueParts ?? []
            var model: [ProtoPart] = [
                .varintField(1, UInt64(irVersion)), .stringField(2, "amalgam"),
                .stringField(3, ONNXPlugin.producerVersion),
            ]
            if let domain = metadata["onnx.domain"]?.stringValue, !domain.isEmpty {
                model.append(.stringField(4, domain))
            }
            if let version = metadata["onnx.model_version"]?.intValue {
                model.append(.varintField(5, UInt64(bitPattern: Int64(version))))
            }
            if let doc = metadata["onnx.doc_string"]?.stringValue, !doc.isEmpty { model.append(.stringField(6, doc)) }
            model.append(.message(field: 7, graphParts))
            let opset = computation?.opset ?? Int(ONNXDataType.opset(forIRVersion: irVersion))
            model.append(.message(field: 8, [.varintField(2, UInt64(opset))]))
            for entry in metadata where !entry.key.hasPrefix("onnx.") {
                model.append(
                    .message(field: 14, [.stringField(1, entry.key), .stringField(2, entry.value.description)]))
            }
            return model
        }
    }
}
