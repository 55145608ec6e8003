import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// The activation functions a network can use between linear layers.
public enum Activation: String, Sendable, CaseIterable {
    case relu
    /// GELU in its exact form, `x Φ(x)` (BERT's and ViT's `gelu`).
    case gelu
    /// GELU's tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    case geluTanh = "gelu_tanh"
    case tanh

    /// Hugging Face's `hidden_act` names.
    public init?(huggingFace name: String) {
        switch name {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "relu": self = .relu
        case "tanh": self = .tanh
        default: return nil
        }
    }
}
