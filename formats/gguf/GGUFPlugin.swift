import AmalgamCore

/// The GGUF format (llama.cpp): reads v2 and v3 files with every ggml type, writes v3 with
/// optional quantisation, and translates between GGUF and Hugging Face names and layouts.
public struct GGUFPlugin: FormatReader, FormatWriter {
    public typealias Options = GGUFWriterOptions

    public init() {}

    public var identifier: String { "gguf" }
    public var displayName: String { "GGUF" }
    public var fileExtensions: [String] { ["gguf"] }

    /// The values `--quant` accepts, lowercase (`q4_k`).
    public static var quantizationChoices: [String] { GGUFQuantization.names }

    public func sniff(_ prefix: [UInt8]) -> Bool { prefix.starts(with: GGUFFile.magic) }

    public func audit(_ path: String, options: ReadOptions, strict: Bool) -> FileAudit {
        GGUFFile.audit(path: path, strict: strict)
    }

    public func read(_ path: String, options: ReadOptions) throws -> ModelGraph {
        let file = try GGUFFile(path: path)
        let architecture = file.metadata["general.architecture"]?.stringValue
        let naming = GGUFNaming.forArchitecture(architecture)
        let heads = architecture.flatMap { file.metadata["\($0).attention.head_count"]?.intValue }
        let kvHeads = architecture.flatMap { file.metadata["\($0).attention.head_count_kv"]?.intValue }

        var tensors: [Tensor] = []
        var notes: [String] = []
        var unmapped: [String] = []
        for info in file.tensors {
            let region = file.region(of: info)
            guard let naming, let canonical = naming.huggingFaceName(forGGUF: info.name) else {
                if naming != nil { unmapped.append(info.name) }
                tensors.append(
                    Tensor(name: info.name, shape: info.shape, encoding: info.type.encoding, storage: .region(region)))
                continue
            }
            let transform = try AmalgamError.withContext(file: path, tensor: info.name) {
                try naming.transform(forGGUF: info.name, heads: heads, kvHeads: kvHeads)
            }
            tensors.append(
                try Self.huggingFaceTensor(
                    info: info, region: region, name: canonical, transform: transform, path: path))
        }
        if architecture == nil {
            notes.append("no general.architecture: GGUF tensor names kept verbatim")
        } else if naming == nil {
            notes.append(
                "architecture '\(architecture!)' has no name table in Amalgam: GGUF tensor names kept verbatim")
        } else if !unmapped.isEmpty {
            notes.append(
                "\(unmapped.count) tensor(s) have no Hugging Face name and keep their GGUF names: \(unmapped.prefix(5).joined(separator: ", "))\(unmapped.count > 5 ? ", ..." : "")"
            )
        }

        var hints = ArchitectureHints(name: naming?.modelType ?? architecture)
        if let architecture {
            hints.parameters = HuggingFaceConfig.parameters(fromGGUF: file.metadata, architecture: architecture)
        }
        var graph = try AmalgamError.withContext(file: path) {
            try ModelGraph(tensors: tensors, metadata: file.metadata, architecture: hints, sourceFormat: identifier)
        }
        graph.notes = notes
        if let naming {
            let config = HuggingFaceConfig.configJSON(
                metadata: file.metadata, naming: naming, tensorNames: Set(file.tensors.map(\.name)), dtype: "float32")
            graph.attachments["config.json"] = ByteRegion(copying: Array(config.serialized(pretty: true).utf8) + [0x0A])
        }
        if let tokenizer = HuggingFaceTokenizer.export(from: file.metadata) {
            graph.attachments[tokenizer.name] = ByteRegion(copying: Array(tokenizer.json.serialized().utf8))
        }
        if let config = TokenizerConfig.export(from: file.metadata) {
            graph.attachments["tokenizer_config.json"] = ByteRegion(
                copying: Array(config.serialized(pretty: true).utf8) + [0x0A])
        }
        return graph
    }

    /// A GGUF tensor in its Hugging Face form: de-permuted rows (still in its encoding),
    /// or transposed / offset values (as f32).
    static func huggingFaceTensor(
        info: GGUFTensorInfo, region: ByteRegion, name: String, transform: GGUFTensorTransform, path: String
    ) throws -> Tensor {
        let shape = info.shape
        let encoding = info.type.encoding
        switch transform {
        case .none:
            return Tensor(
                name: name, originalName: info.name, shape: shape, encoding: encoding, storage: .region(region))
        case .rotaryPermutation(let heads):
            let rows = shape.dimensions.first ?? 1
            // Validate now so a bad head count is a read error, not a later surprise.
            _ = try AmalgamError.withContext(file: path, tensor: info.name) {
                try TensorTransforms.rotarySourceRows(rows: rows, heads: heads, toGGUF: false)
            }
            return Tensor(
                name: name, originalName: info.name, shape: shape, encoding: encoding,
                storage: .deferred {
                    try TensorTransforms.permutingRows(region, rows: rows, heads: heads, toGGUF: false)
                })
        case .transpose, .addOne:
            let source = Tensor(name: name, shape: shape, encoding: encoding, storage: .region(region))
            return Tensor(
                name: name, originalName: info.name, shape: TensorTransforms.shape(shape, after: transform),
                encoding: .plain(.f32),
                storage: .deferred {
                    let values = try source.floatValues()
                    return TensorTransforms.region(
                        of: TensorTransforms.transformedValues(
                            values, shape: shape, transform: transform, toGGUF: false))
                })
        }
    }

    public func plan(_ graph: ModelGraph, to path: String, options: Options) throws -> any WritePlan {
        var writer = GGUFWriter(graph: graph, options: options)
        return try writer.plan(to: path)
    }
}
