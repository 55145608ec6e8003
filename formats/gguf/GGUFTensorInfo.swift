import AmalgamCore

/// One tensor as a GGUF file describes it.
struct GGUFTensorInfo: Sendable {
    var name: String
    /// ggml's `ne`, fastest-varying axis first.
    var ne: [Int]
    var type: GGMLType
    /// Relative to the start of the data section.
    var offset: Int
    var byteCount: Int
    /// Row-major shape in the core's convention: `ne` reversed.
    var shape: Shape { Shape(Array(ne.reversed())) }
}
