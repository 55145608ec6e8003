@_exported import AmalgamCore
import NPZFormat
import SafetensorsFormat

/// The library's front door: the built-in formats and the operations the CLI offers.
public enum Amalgam {
    /// The version printed by `amalgam --version`.
    public static let version = "0.1.0"

    /// A registry holding every format plugin shipped with Amalgam.
    public static var builtInFormats: FormatRegistry {
        FormatRegistry([SafetensorsPlugin(), NPZPlugin(), NPYPlugin()])
    }
}
