/// A LoRA adapter in canonical tensor names, whatever file it came from (a PEFT folder, a
/// llama.cpp adapter GGUF): for each target matrix `W` its update `scale · B A`, and whole
/// tensors that replace the base's (PEFT's `modules_to_save`).
public struct LoRAAdapter: Sendable {
    /// One low-rank update.
    public struct Update: Sendable {
        /// The canonical name of the matrix it changes (`model.layers.0.self_attn.q_proj.weight`).
        public var target: String
        /// `B`, m x r, and `A`, r x n (any floating-point encoding; decoded when used).
        public var b: Tensor
        public var a: Tensor
        /// `lora_alpha / r` (or `/ sqrt(r)` with rsLoRA), resolved per module.
        public var scale: Float
        /// The target is stored transposed to `B A` (PEFT's `fan_in_fan_out`, embeddings,
        /// Conv1D): its update is `scale · (B A)ᵀ`.
        public var transposed: Bool

        public init(target: String, b: Tensor, a: Tensor, scale: Float, transposed: Bool = false) {
            self.target = target
            self.b = b
            self.a = a
            self.scale = scale
            self.transposed = transposed
        }

        public var rank: Int { a.shape.dimensions.first ?? 0 }
        /// The shape of the target (`[m, n]`, or `[n, m]` when transposed).
        public var targetShape: Shape {
            let m = b.shape.dimensions.first ?? 0
            let n = a.shape.dimensions.count == 2 ? a.shape.dimensions[1] : 0
            return transposed ? Shape([n, m]) : Shape([m, n])
        }
    }

    public var updates: [Update]
    /// Tensors (canonical names) that replace the base's outright.
    public var replacements: [Tensor]
    /// Where it came from: `peft-lora` or `gguf-lora`.
    public var format: String
    /// The base model the adapter names (`base_model_name_or_path`), for messages.
    public var baseModel: String?

    public init(updates: [Update], replacements: [Tensor], format: String, baseModel: String? = nil) {
        self.updates = updates
        self.replacements = replacements
        self.format = format
        self.baseModel = baseModel
    }
}
