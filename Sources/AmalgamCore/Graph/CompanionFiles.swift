/// The files of a Hugging Face model folder besides the weights: configuration and
/// tokenizer. Readers attach them to the graph (`ModelGraph.attachments`) so they travel
/// through conversions and merges, and writers put them beside their output.
public enum CompanionFiles {
    /// The companion files carried with a model, by name.
    public static let names = [
        "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "tokenizer.model", "vocab.txt", "merges.txt", "chat_template.jinja",
    ]

    /// Companion files larger than this are not carried (no tokenizer is this large).
    static let maximumBytes = 200_000_000

    /// True for the names weights have in a Hugging Face folder (`model.safetensors`,
    /// `model-00001-of-00002.safetensors`, `model.safetensors.index.json`,
    /// `adapter_model.safetensors`, `pytorch_model.bin`): files whose folder's companions
    /// are theirs. Other files in a folder may sit beside anything.
    public static func isHuggingFaceName(_ name: String) -> Bool {
        for stem in ["model", "adapter_model", "pytorch_model"] {
            for ext in [".safetensors", ".bin"] {
                if name == stem + ext || name == stem + ext + ".index.json" { return true }
                // Shards: STEM-00001-of-00002.EXT
                guard name.hasPrefix(stem + "-"), name.hasSuffix(ext) else { continue }
                let middle = name.dropFirst(stem.count + 1).dropLast(ext.count).split(separator: "-")
                if middle.count == 3, middle[1] == "of", middle[0].allSatisfy(\.isNumber),
                    middle[2].allSatisfy(\.isNumber)
                {
                    return true
                }
            }
        }
        return false
    }

    /// The companion files present in `folder`, mapped (unreadable or oversized ones are
    /// left out: they are not needed to read weights).
    public static func read(in folder: String) -> [String: ByteRegion] {
        var found: [String: ByteRegion] = [:]
        for name in names {
            guard let file = try? MappedFile(path: folder + "/" + name), file.size < maximumBytes else { continue }
            found[name] = file.region
        }
        return found
    }
}
