@_exported import AmalgamCore
import GGUFFormat
import NPZFormat
import ONNXFormat
import PyTorchFormat
import SafetensorsFormat

/// The library's front door: the built-in formats and the operations the CLI offers.
public enum Amalgam {
    /// The version printed by `amalgam --version`.
    public static let version = "0.1.0"

    /// The types `--quant` accepts for GGUF output (`q8_0`, `q4_k`...).
    public static var quantizationChoices: [String] { GGUFPlugin.quantizationChoices }

    /// A registry holding every format plugin shipped with Amalgam.
    public static var builtInFormats: FormatRegistry {
        FormatRegistry([SafetensorsPlugin(), GGUFPlugin(), PyTorchPlugin(), NPZPlugin(), NPYPlugin(), ONNXPlugin()])
    }
}
