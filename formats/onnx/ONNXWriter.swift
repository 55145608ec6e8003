import AmalgamCore

/// One tensor's bytes in an output model: how many, and how to take them from the graph
/// being written (loaded only while they are written).
struct ONNXPayload {
    var tensorName: String
    var count: Int
    var load: (ModelGraph) throws -> ByteRegion
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
        let metadata = graph.metadata
        let graphName = metadata["onnx.graph_name"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "amalgam"
        return { [planned, irVersion] placement in
            var graphParts: [ProtoPart] = [.stringField(2, graphName)]
            for (tensor, dtype, count) in planned {
                var fields = tensor.shape.dimensions.map { ProtoPart.varintField(1, UInt64($0)) }
                fields.append(.varintField(2, UInt64(ONNXDataType.code(for: dtype))))
                fields.append(.stringField(8, tensor.name))
                let name = tensor.name
                fields += placement.dataFields(
                    ONNXPayload(tensorName: name, count: count) { graph in
                        try AmalgamError.withContext(tensor: name) { try graph[name]!.loadBytes() }
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

/// An ONNX output decided in full: the model's parts (sizes known, tensors loaded while
/// written) and, for external data, the data file's payloads at their aligned offsets.
struct ONNXWritePlan: WritePlan {
    let path: String
    let dataPath: String?
    let parts: [ProtoPart]
    let external: [(offset: Int, payload: ONNXPayload)]
    let warnings: [String]
    let loadOrder: [Int]
    let inputs: [String]
    let tensorBytes: Int

    var targets: [String] { [path] + (dataPath.map { [$0] } ?? []) }

    func write(_ graph: ModelGraph, into outputs: OutputSet, progress: any ProgressReporter) throws {
        let model = try outputs.create(path)
        for part in parts {
            try part.emit(into: model, graph: graph) { progress.advance(by: Int64($0)) }
        }
        guard let dataPath else { return }
        let data = try outputs.create(dataPath)
        for (offset, payload) in external {
            try data.pad(offset - data.position)
            let region = try AmalgamError.withContext(tensor: payload.tensorName) { try payload.load(graph) }
            guard region.count == payload.count else {
                throw AmalgamError(
                    .internal, "tensor payload holds \(region.count) bytes, \(payload.count) were planned",
                    tensor: payload.tensorName)
            }
            region.adviseSequentialRead()
            try data.write(region)
            progress.advance(by: Int64(region.count))
        }
    }
}

/// Options of ONNX output.
public struct ONNXWriterOptions: WriterOptions {
    /// Write this model's graph with its initializers replaced (`--template BASE.onnx`).
    public var template: String?
    /// Keep tensor data in `OUT.data` beside the model.
    public var externalData = false
    /// Models larger than this get external data (protobuf's 2 GiB limit; tests lower it).
    public var inlineLimit = Int(Int32.max)

    public init() {}

    public init(template: String? = nil, externalData: Bool = false, inlineLimit: Int = Int(Int32.max)) {
        self.template = template
        self.externalData = externalData
        self.inlineLimit = inlineLimit
    }

    public static let accepted: Set<OutputSetting> = [.template, .externalData]

    public init(_ settings: OutputSettings) {
        template = settings.template
        externalData = settings.externalData
    }
}
