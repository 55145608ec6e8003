import AmalgamCore
import LinearAlgebra

/// The hyper-parameters a transformer needs beyond its weights.
public struct TransformerSettings: Sendable {
    public var heads: Int?
    public var epsilon: Float?
    public var activation: Activation?
    public var pooling: Pooling?

    public init(heads: Int? = nil, epsilon: Float? = nil, activation: Activation? = nil, pooling: Pooling? = nil) {
        self.heads = heads
        self.epsilon = epsilon
        self.activation = activation
        self.pooling = pooling
    }

    /// Explicit settings, then config.json's (`num_attention_heads`, `layer_norm_eps`,
    /// `hidden_act`), then defaults (eps 1e-12, GELU).
    func resolved(_ hints: ArchitectureHints) throws -> (heads: Int, epsilon: Float, activation: Activation) {
        guard let heads = heads ?? hints.parameters["num_attention_heads"]?.intValue, heads > 0 else {
            throw AmalgamError(
                .usage,
                "the attention head count is unknown: pass --heads N (or keep the model's config.json beside it)")
        }
        var epsilon = self.epsilon ?? 1e-12
        if self.epsilon == nil, let value = hints.parameters["layer_norm_eps"] {
            if case .f64(let e) = value { epsilon = Float(e) } else if let e = value.intValue { epsilon = Float(e) }
        }
        var activation = self.activation ?? .gelu
        if self.activation == nil, let name = hints.parameters["hidden_act"]?.stringValue {
            guard let known = Activation(huggingFace: name) else {
                throw AmalgamError(
                    .unsupported, "hidden_act '\(name)' is not supported (gelu, gelu_new, relu, tanh are)")
            }
            activation = known
        }
        return (heads, epsilon, activation)
    }
}
