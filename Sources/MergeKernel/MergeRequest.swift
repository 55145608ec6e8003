import AmalgamCore

/// What to merge: a base, the sources, a method and its run settings.
public struct MergeRequest: Sendable {
    public var base: ModelGraph
    public var baseLabel: String
    public var sources: [ModelGraph]
    public var sourceLabels: [String]
    public var method: any MergeMethod
    /// Extra name patterns whose tensors are averaged instead of SVD-merged.
    public var skip: [NamePattern]
    /// Also skip embeddings, position embeddings and vocabulary heads (the default).
    public var skipVocabulary: Bool
    /// Leave a source out of tensors it lacks instead of failing.
    public var allowMissing: Bool
    public var seed: UInt64
    /// Threads in all: tensors merged at once times BLAS threads each.
    public var parallelism: Parallelism
    /// Name patterns of tensors left out of the merged model (heads of the sources' tasks).
    public var leaveOut: [NamePattern] = []
    /// Low-rank factors for every merged matrix, also for methods that do not make them
    /// (the SVD of the merged update), for Stage 2.
    public var wantsFactors = false
    /// The report records, for every merged matrix, each source's top singular values and the
    /// merged update's, also for methods that compute no SVD (a seeded randomized SVD of rank
    /// K = 10% of min(m, n) each): what `--report` and `--report-html` draw.
    public var wantsSpectra = false
    /// Components and entries of quantised sources below their rounding noise are dropped
    /// by AXIS, TSV-M and TIES (on by default).
    public var noiseFloor: NoiseFloor = .automatic
    /// Per source, nil or the factored task vectors of a LoRA adapter source (whose graph
    /// holds the same tensors dense, `W0 + B A`, for methods that need them).
    public var factoredSources: [(any FactoredTaskVectorSource)?] = []
    /// The method's parameters as the configuration gave them (mergekit's `parameters`,
    /// per model and for the merge), resolved per tensor by name and layer.
    public var parameters = MergeParameters()
    /// For merges of layer slices: each slice's parameters, in output order (tensors outside
    /// the layers take the first slice's before the layers, the last's after them).
    public var parameterSlices: [ParameterSlice] = []
    /// For methods whose inputs include the base: where it goes among them (mergekit's model
    /// order: where the base is listed, or last when it is not). Nil: first.
    public var baseInputPosition: Int? = nil

    public init(
        base: ModelGraph, baseLabel: String, sources: [ModelGraph], sourceLabels: [String], method: any MergeMethod,
        skip: [NamePattern] = [], skipVocabulary: Bool = true, allowMissing: Bool = false, seed: UInt64 = 0,
        parallelism: Parallelism = .current
    ) {
        self.base = base
        self.baseLabel = baseLabel
        self.sources = sources
        self.sourceLabels = sourceLabels
        self.method = method
        self.skip = skip
        self.skipVocabulary = skipVocabulary
        self.allowMissing = allowMissing
        self.seed = seed
        self.parallelism = parallelism
    }
}

extension MergeRequest {
    /// The parameters that apply to tensor `name` (its slice's, in a merge of slices) and
    /// mergekit's `t` there: the layer's index over the last layer's in the slice (0 for
    /// tensors outside the layers, 1 for a slice of one layer; `layerCount`: the model's layers,
    /// for merges without slices).
    public func parameters(forTensor name: String, layerCount: Int) -> (MergeParameters, Double) {
        let block = LayerPosition(name: name).block
        guard !parameterSlices.isEmpty else {
            guard let block else { return (parameters, 0) }
            return (parameters, layerCount > 1 ? Double(block) / Double(layerCount - 1) : 1)
        }
        guard let block, let slice = parameterSlices.first(where: { $0.layers.contains(block) }) else {
            // Embeddings take the first slice's parameters, the final norm and head the last's.
            let before = [.tokenEmbedding, .positionEmbedding, .tokenTypeEmbedding].contains(
                LayerPosition(name: name).role)
            return ((before ? parameterSlices.first! : parameterSlices.last!).parameters, 0)
        }
        let count = slice.layers.count
        return (slice.parameters, count > 1 ? Double(block - slice.layers.lowerBound) / Double(count - 1) : 1)
    }
}

/// A source whose task vectors of some tensors are known as factors (a LoRA adapter).
public protocol FactoredTaskVectorSource: Sendable {
    /// The task vector of base tensor `name` (of `shape`) as `B A`, or nil where the source
    /// changes it otherwise (its dense tensor is read). A zero-rank vector where unchanged.
    func taskVector(of name: String, shape: Shape) throws -> FactoredTaskVector?
}
