/// The model families of the zoo.
public enum ZooFamily: String, Sendable, CaseIterable {
    /// MLP 784-256-256-256 (ReLU) on the vision tasks.
    case mlp
    /// A small ViT on the vision tasks.
    case vit
    /// paraphrase-MiniLM-L3-v2 on the WordNet gloss tasks.
    case text

    var isVision: Bool { self != .text }
}
