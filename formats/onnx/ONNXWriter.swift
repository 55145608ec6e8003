import AmalgamCore

/// One tensor's bytes in an output model: how many, and how to get them (loaded only
/// while they are written).
struct ONNXPayload {
    var tensorName: String
    var count: Int
    var load: () throws -> ByteRegion
}

/// Where output tensor bytes go: inline `raw_data`, or an external data file beside the
/// model with 4096-byte-aligned offsets (`--external-data`, and automatically when the
/// model would exceed protobuf's 2 GiB limit).
final class ONNXDataPlacement {
    static let externalAlignment = 4096

    let externalFileName: String?
    private(set) var externalPayloads: [(offset: Int, payload: ONNXPayload)] = []
    /// Every payload's tensor name, in the order the model will load them.
    private(set) var loadOrder: [String] = []
    private var nextOffset = 0

    init(externalFileName: String?) { self.externalFileName = externalFileName }

    /// The TensorProto fields that hold (or point to) `payload`.
    func dataFields(_ payload: ONNXPayload) -> [ProtoPart] {
        loadOrder.append(payload.tensorName)
        guard let externalFileName else {
            return [.payload(field: 9, count: payload.count, load: payload.load)]
        }
        let offset = nextOffset
        externalPayloads.append((offset, payload))
        nextOffset =
            (offset + payload.count + Self.externalAlignment - 1) / Self.externalAlignment * Self.externalAlignment
        func entry(_ key: String, _ value: String) -> ProtoPart {
            .message(field: 13, [.stringField(1, key), .stringField(2, value)])
        }
        return [
            entry("location", externalFileName), entry("offset", String(offset)),
            entry("length", String(payload.count)),
            .varintField(14, 1),
        ]
    }
}

/// Writes ONNX files: a weights-only model (every tensor an initializer of a graph without
/// nodes), or, with `--template BASE.onnx`, the template's graph with its initializers
/// replaced by the graph's tensors (see `ONNXTemplateExport`).
struct ONNXWriter {
    let graph: ModelGraph
    let options: WriteOptions

    /// Builds the model's top-level parts for a given data placement.
    typealias Assembly = (ONNXDataPlacement) throws -> [ProtoPart]

    func write(to path: String) throws -> [String] {
        let assembly: Assembly
        var warnings: [String] = []
        if let template = options.extra["template"] {
            let export = try ONNXTemplateExport(templatePath: template, graph: graph)
            warnings = export.warnings
            assembly = export.assemble
        } else {
            assembly = try weightsOnly()
        }
        let dataName = FileSystem.baseName(of: path) + ".data"
        var placement = ONNXDataPlacement(externalFileName: options.extra["external-data"] != nil ? dataName : nil)
        var parts = try assembly(placement)
        // `inline-limit` lowers protobuf's limit, for tests (as npz's `zip64-threshold`).
        let limit = options.extra["inline-limit"].flatMap { Int($0) } ?? ONNXModel.protobufLimit
        if placement.externalFileName == nil, parts.reduce(0, { $0 + $1.size }) > limit {
            options.warn("the model exceeds protobuf's 2 GiB limit: tensor data goes to \(dataName)")
            placement = ONNXDataPlacement(externalFileName: dataName)
            parts = try assembly(placement)
        }
        for warning in warnings { options.warn(warning) }

        var protected = options.protectedInputs
        if let template = options.extra["template"], let identity = FileIdentity.of(path: template) {
            protected.insert(identity)
        }
        let transaction = OutputTransaction(overwrite: options.overwrite, protecting: protected)
        let dataPath = FileSystem.folder(of: path) + "/" + dataName
        try transaction.checkTarget(path)
        if placement.externalFileName != nil { try transaction.checkTarget(dataPath) }
        let total = graph.tensors.reduce(0) { $0 + ((try? $1.byteCount) ?? 0) }
        options.progress.begin(label: "writing \(FileSystem.baseName(of: path))", total: Int64(total))
        defer { options.progress.finish() }
        let model = try transaction.create(path)
        for part in parts {
            try part.emit(into: model) { options.progress.advance(by: Int64($0)) }
        }
        var created = [path]
        if placement.externalFileName != nil {
            let data = try transaction.create(dataPath)
            for (offset, payload) in placement.externalPayloads {
                try data.pad(offset - data.position)
                let region = try AmalgamError.withContext(tensor: payload.tensorName) { try payload.load() }
                guard region.count == payload.count else {
                    throw AmalgamError(
                        .internal, "tensor payload holds \(region.count) bytes, \(payload.count) were planned",
                        tensor: payload.tensorName)
                }
                region.adviseSequentialRead()
                try data.write(region)
                options.progress.advance(by: Int64(region.count))
            }
            created.append(dataPath)
        }
        try options.validateBeforeCommit()
        try transaction.commit()
        return created
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
        let metadata = graph.metadata
        let graphName = metadata["onnx.graph_name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "amalgam"
        return { [planned, irVersion] placement in
            var graphParts: [ProtoPart] = [.stringField(2, graphName)]
            for (tensor, dtype, count) in planned {
                var fields = tensor.shape.dimensions.map { ProtoPart.varintField(1, UInt64($0)) }
                fields.append(.varintField(2, UInt64(ONNXDataType.code(for: dtype))))
                fields.append(.stringField(8, tensor.name))
                fields += placement.dataFields(
                    ONNXPayload(tensorName: tensor.name, count: count) {
                        try AmalgamError.withContext(tensor: tensor.name) { try tensor.loadBytes() }
                    })
                graphParts.append(.message(field: 5, fields))
            }
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
            model.append(.message(field: 8, [.varintField(2, UInt64(ONNXDataType.opset(forIRVersion: irVersion)))]))
            for entry in metadata where !entry.key.hasPrefix("onnx.") {
                model.append(
                    .message(field: 14, [.stringField(1, entry.key), .stringField(2, entry.value.description)]))
            }
            return model
        }
    }
}
