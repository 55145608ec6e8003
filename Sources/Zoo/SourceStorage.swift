import AmalgamCore

/// How the zoo stores a fine-tuned source: deliberately mixed, as models come from the hub.
enum SourceStorage: String, Sendable, CaseIterable {
    case safetensors
    case ggufF16 = "gguf F16"
    case ggufQ8 = "gguf Q8_0"
    case onnx
    case npz

    /// The storage of the zoo's task number `index` (the eight tasks cycle through them).
    static func forTask(_ index: Int) -> SourceStorage {
        [.safetensors, .ggufF16, .onnx, .npz, .ggufQ8, .safetensors, .onnx, .ggufF16][index % 8]
    }

    var fileExtension: String {
        switch self {
        case .safetensors: "safetensors"
        case .ggufF16, .ggufQ8: "gguf"
        case .onnx: "onnx"
        case .npz: "npz"
        }
    }

    var settings: OutputSettings {
        switch self {
        case .ggufF16: OutputSettings(quant: "f16")
        case .ggufQ8: OutputSettings(quant: "q8_0")
        default: OutputSettings()
        }
    }
}
