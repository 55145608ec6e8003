/// The common layer graph every format reads into and writes from: ordered tensors with
/// canonical names, typed metadata, architecture hints and files carried through untouched
/// (a tokenizer, a `config.json`).
///
/// A graph is a value; transforms return new graphs and never touch the input files.
/// Tensor storage is lazy, so a graph of a 100 GB model costs only its headers.
public struct ModelGraph: Sendable {
    public private(set) var tensors: [Tensor]
    private var positions: [String: Int]
    public var metadata: Metadata
    public var architecture: ArchitectureHints
    /// Identifier of the plugin that read the graph (`safetensors`), nil if built in memory.
    public var sourceFormat: String?
    /// Companion files carried through conversions, by file name (`tokenizer.json`).
    public var attachments: [String: ByteRegion]
    /// What the reader wants a user to know about its interpretation (names kept verbatim...).
    public var notes: [String] = []

    /// Creates a graph; throws `.invalidFormat` if two tensors share a canonical name.
    public init(
        tensors: [Tensor] = [], metadata: Metadata = Metadata(),
        architecture: ArchitectureHints = ArchitectureHints(), sourceFormat: String? = nil,
        attachments: [String: ByteRegion] = [:]
    ) throws(AmalgamError) {
        self.tensors = []
        self.positions = [:]
        self.metadata = metadata
        self.architecture = architecture
        self.sourceFormat = sourceFormat
        self.attachments = attachments
        for tensor in tensors { try append(tensor) }
    }

    /// Adds a tensor at the end; throws `.invalidFormat` on a duplicate canonical name.
    public mutating func append(_ tensor: Tensor) throws(AmalgamError) {
        guard positions[tensor.name] == nil else {
            throw AmalgamError(.invalidFormat, "duplicate tensor name", tensor: tensor.name)
        }
        positions[tensor.name] = tensors.count
        tensors.append(tensor)
    }

    /// Replaces every tensor by `transform(tensor)`; names must stay unique.
    public func mapTensors(_ transform: (Tensor) throws -> Tensor) throws -> ModelGraph {
        var copy = self
        copy.tensors = []
        copy.positions = [:]
        for tensor in tensors { try copy.append(transform(tensor)) }
        return copy
    }

    public subscript(name: String) -> Tensor? { positions[name].map { tensors[$0] } }

    /// The position of the tensor named `name` in `tensors`.
    public func index(of name: String) -> Int? { positions[name] }

    /// Total number of elements over all tensors.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.shape.elementCount } }

    /// Tensors grouped by block index in model order; tensors outside any block form groups
    /// with `block == nil` (one before the blocks, one after).
    public var layers: [LayerGroup] {
        var groups: [LayerGroup] = []
        for tensor in tensors {
            let position = LayerPosition(name: tensor.name)
            if let last = groups.last, last.block == position.block {
                groups[groups.count - 1].members.append((tensor.name, position.role))
            } else if let existing = groups.firstIndex(where: { $0.block != nil && $0.block == position.block }) {
                groups[existing].members.append((tensor.name, position.role))
            } else {
                groups.append(LayerGroup(block: position.block, members: [(tensor.name, position.role)]))
            }
        }
        return groups
    }
}
