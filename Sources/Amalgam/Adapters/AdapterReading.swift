import GGUFFormat

extension Amalgam {
    /// The LoRA adapter at `path` in `base`'s canonical names (a PEFT folder, or a llama.cpp
    /// adapter GGUF), or nil when `path` is a model, not an adapter.
    public static func readAdapter(
        _ path: String, base: ModelGraph, registry: FormatRegistry = Amalgam.builtInFormats
    ) throws -> LoRAAdapter? {
        if PEFTAdapter.isAdapter(path) { return try PEFTAdapter.read(path, base: base, registry: registry) }
        if GGUFLoRA.isAdapter(path) { return try GGUFLoRA.read(path, base: base) }
        return nil
    }
}
