import AmalgamCore

/// The architectures the engine builds, and how one is chosen for a model.
public enum TuningArchitectures {
    /// Detection tries them in this order (an MLP chain is the loosest pattern, so it is last).
    static let all: [any NetworkArchitecture.Type] = [BertClassifier.self, ViTClassifier.self, MLPClassifier.self]

    /// Their names, as `--arch` takes them.
    public static var names: [String] { ["mlp", "bert", "vit"].filter { name in all.contains { $0.name == name } } }

    static func named(_ name: String) -> (any NetworkArchitecture.Type)? { all.first { $0.name == name } }

    /// `explicit`, else the model's `amalgam.architecture`, else the first that recognises
    /// the tensor names.
    static func detect(_ graph: ModelGraph, explicit: String?) throws -> any NetworkArchitecture.Type {
        if let explicit {
            guard let known = named(explicit) else {
                throw AmalgamError(
                    .usage, "unknown architecture '\(explicit)' (known: \(names.joined(separator: ", ")))")
            }
            return known
        }
        if let name = graph.metadata["amalgam.architecture"]?.stringValue, let known = named(name) { return known }
        if let known = all.first(where: { $0.recognizes(graph) }) { return known }
        if let family = graph.architecture.name {
            throw AmalgamError(
                .unsupported,
                "\(family) is not an architecture Amalgam trains (\(names.joined(separator: ", ")) are); it can be merged and converted"
            )
        }
        throw AmalgamError(
            .unsupported,
            "cannot tell the architecture from the tensor names (\(names.joined(separator: ", ")) are supported; --arch chooses)"
        )
    }

    /// The label count of the head `graph` already has, by its architecture; nil when it has none.
    public static func headClassCount(in graph: ModelGraph) -> Int? {
        let architecture = graph.metadata["amalgam.architecture"]?.stringValue.flatMap(named)
        return (architecture ?? all.first { $0.recognizes(graph) })?.headClassCount(in: graph)
    }
}
