/// Hints about the architecture, gathered from GGUF keys, `config.json` or an ONNX graph.
public struct ArchitectureHints: Sendable, Hashable {
    /// e.g. `llama`, `bert`, `gpt2`; nil when unknown.
    public var name: String?
    /// Hyper-parameters by Hugging Face config name (`hidden_size`, `num_attention_heads`...).
    public var parameters: Metadata

    public init(name: String? = nil, parameters: Metadata = Metadata()) {
        self.name = name
        self.parameters = parameters
    }
}
