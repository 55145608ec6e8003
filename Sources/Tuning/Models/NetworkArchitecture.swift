import AmalgamCore

/// A classifier architecture the engine builds from a model's tensors. Each architecture is
/// one class that conforms (its network and how to recognise and build it, in one file)
/// and one entry in `TuningArchitectures.all`.
protocol NetworkArchitecture: Network {
    /// What `--arch` and the `amalgam.architecture` metadata call it (`mlp`).
    static var name: String { get }
    /// True when `graph`'s tensor names are this architecture's.
    static func recognizes(_ graph: ModelGraph) -> Bool
    /// The label count of the head the model already has; nil when it has none.
    static func headClassCount(in graph: ModelGraph) -> Int?
    /// The network for `store`'s graph with a head for `classes` labels. Refuses settings of
    /// `setup` that mean nothing to this architecture.
    static func build(store: ParameterStore, setup: TuningSetup, classes: Int) throws -> Self
}
