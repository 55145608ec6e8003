/// mergekit's `slices`: the output's layers stacked from layer ranges of the inputs. Each
/// slice takes the same number of layers from each of its sources and merges them (or, with
/// `passthrough`, copies its one source's); the slices follow each other in the output, whose
/// layers are renumbered from 0. The tensors outside the layers come from the first slice's
/// models (those before the layers, the embeddings) and the last slice's (those after: final
/// norm, head), as mergekit takes its pre- and post-weights.
public struct LayerSlice: Sendable {
    public struct Source: Sendable {
        public var model: String
        /// Input layers `[start, end)`.
        public var layers: Range<Int>
        public var parameters: [String: ParameterSetting]

        public init(model: String, layers: Range<Int>, parameters: [String: ParameterSetting] = [:]) {
            self.model = model
            self.layers = layers
            self.parameters = parameters
        }
    }

    public var sources: [Source]
    /// The slice's own base model (mergekit's per-slice `base_model`), else the merge's.
    public var baseModel: String?
    public var parameters: [String: ParameterSetting]

    public init(sources: [Source], baseModel: String? = nil, parameters: [String: ParameterSetting] = [:]) {
        self.sources = sources
        self.baseModel = baseModel
        self.parameters = parameters
    }

    public var layerCount: Int { sources.first?.layers.count ?? 0 }
}

/// Building stacked graphs from slices of model graphs.
enum LayerStacking {
    /// The tensors of `graph` in `layers`, renumbered to start at `offset`; with `pre` the
    /// embeddings, with `post` the other tensors outside the layers (final norm, head). - Throws: when the graph lacks a layer in the range.
    static func slice(
        _ graph: ModelGraph, label: String, layers: Range<Int>, offset: Int, pre: Bool, post: Bool
    ) throws -> [Tensor] {
        let present = Set(graph.tensors.compactMap { LayerPosition(name: $0.name).block })
        let count = (present.max() ?? -1) + 1
        guard layers.lowerBound >= 0, layers.upperBound <= count, !layers.isEmpty else {
            throw AmalgamError(
                .usage,
                "layer_range [\(layers.lowerBound), \(layers.upperBound)] is outside \(label)'s \(count) layers")
        }
        var result: [Tensor] = []
        for tensor in graph.tensors {
            let position = LayerPosition(name: tensor.name)
            guard let block = position.block else {
                // mergekit's pre-weights are the embeddings; the rest (final norm, head) come after.
                let before = [.tokenEmbedding, .positionEmbedding, .tokenTypeEmbedding].contains(position.role)
                if before ? pre : post { result.append(tensor) }
                continue
            }
            guard layers.contains(block) else { continue }
            let target = block - layers.lowerBound + offset
            var renamed = tensor
            renamed.name = renumber(tensor.name, from: block, to: target)
            renamed.originalName = renumber(tensor.originalName, from: block, to: target)
            result.append(renamed)
        }
        return result
    }

    /// `name` with its block index `from` replaced by `to` (`model.layers.3.mlp` -> `.5.`).
    static func renumber(_ name: String, from: Int, to: Int) -> String {
        var parts = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        for i in parts.indices.dropLast()
        where ["layers", "layer", "h", "blocks", "block", "blk"].contains(parts[i]) && parts[i + 1] == String(from) {
            parts[i + 1] = String(to)
            break
        }
        return parts.joined(separator: ".")
    }

    /// A graph of `tensors` with `like`'s metadata, tokenizer and configuration, its layer count
    /// set to `layerCount` wherever it is recorded (config.json, the architecture's hints and
    /// GGUF's `{arch}.block_count`).
    static func graph(_ tensors: [Tensor], like model: ModelGraph, layerCount: Int) throws -> ModelGraph {
        var graph = try ModelGraph(
            tensors: tensors, metadata: model.metadata, architecture: model.architecture,
            sourceFormat: model.sourceFormat, attachments: model.attachments)
        for key in ["num_hidden_layers", "n_layer"] where graph.architecture.parameters[key] != nil {
            graph.architecture.parameters[key] = .i64(Int64(layerCount))
        }
        for key in graph.metadata.keys where key.hasSuffix(".block_count") {
            graph.metadata[key] = .u32(UInt32(layerCount))
        }
        if let config = graph.attachments["config.json"],
            let json = try? config.withUnsafeBytes({ (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }),
            case .object(var members) = json
        {
            for index in members.indices where ["num_hidden_layers", "n_layer"].contains(members[index].key) {
                members[index].value = .integer(layerCount)
            }
            // Per-layer lists (Gemma's layer_types) follow the layers they describe.
            graph.attachments["config.json"] = ByteRegion(
                copying: Array((JSONValue.object(members).serialized(pretty: true) + "\n").utf8))
        }
        return graph
    }
}
