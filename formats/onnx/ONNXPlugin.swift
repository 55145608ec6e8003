import AmalgamCore

/// The ONNX format (onnxruntime): reads initializers and Constant tensors (subgraphs and
/// external data included) with canonical names recovered from the graph; writes
/// weights-only models, or a template's graph with new weights (`--template`), inline or
/// with `--external-data`.
public struct ONNXPlugin: FormatReader, FormatWriter {
    public typealias Options = ONNXWriterOptions

    public init() {}

    /// Written as `producer_version`.
    static let producerVersion = "0.1"

    public var identifier: String { "onnx" }
    public var displayName: String { "ONNX" }
    public var fileExtensions: [String] { ["onnx"] }

    /// ONNX has no magic bytes. Exporters write `ir_version` first (field 1, varint: 0x08,
    /// then a small version), followed by the key of another ModelProto field.
    public func sniff(_ prefix: [UInt8]) -> Bool {
        let nextKeys: Set<UInt8> = [0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72]
        return prefix.count >= 3 && prefix[0] == 0x08 && (3...30).contains(prefix[1]) && nextKeys.contains(prefix[2])
    }

    public func read(_ path: String, options: ReadOptions) throws -> ModelGraph {
        let file = try ONNXFile(path: path, staged: options.stagedFiles)
        let model = file.model
        var metadata = Metadata()
        for (key, value) in model.metadataProps where !key.isEmpty {
            guard metadata[key] == nil else {
                throw AmalgamError(.invalidFormat, "metadata_props repeats the key '\(key)'", file: path)
            }
            metadata[key] = .string(value)
        }
        if let version = model.irVersion { metadata["onnx.ir_version"] = .i64(version) }
        metadata["onnx.opset_import"] = .string(
            model.opsets.map { "\($0.domain.isEmpty ? "ai.onnx" : $0.domain):\($0.version)" }.joined(separator: ","))
        for (key, value) in [
            ("producer_name", model.producerName), ("producer_version", model.producerVersion),
            ("domain", model.domain), ("doc_string", model.docString), ("graph_name", model.graph.name),
        ] where !value.isEmpty {
            metadata["onnx.\(key)"] = .string(value)
        }
        if let version = model.modelVersion { metadata["onnx.model_version"] = .i64(version) }

        var entries = file.entries
        var notes = file.notes
        if !options.keepConstants {
            let readers = WeightSelection.readers(in: model.graph)
            let constants = entries.filter { !WeightSelection.isWeight($0, readers: readers) }
            if !constants.isEmpty {
                entries.removeAll { !WeightSelection.isWeight($0, readers: readers) }
                notes.append(
                    "\(constants.count) constant(s) the graph computes with (shapes, axes, scalars) left out: \(constants.prefix(3).map(\.qualifiedName).joined(separator: ", "))\(constants.count > 3 ? ", ..." : "") (--keep-constants keeps them)"
                )
            }
        }
        var graph = try AmalgamError.withContext(file: path) {
            try ModelGraph(tensors: entries.map(\.tensor), metadata: metadata, sourceFormat: identifier)
        }
        graph.notes = notes
        return graph
    }

    public func plan(_ graph: ModelGraph, to path: String, options: Options) throws -> any WritePlan {
        try ONNXWriter(graph: graph, options: options).plan(to: path)
    }
}
