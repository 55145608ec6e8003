import Foundation

/// PEFT's LoRA adapter folder: `adapter_config.json` beside `adapter_model.safetensors` (or
/// the pickled `adapter_model.bin`). Keys are `base_model.model.<module>.lora_A.weight` (r x n),
/// `.lora_B.weight` (m x r), `.lora_embedding_A` / `_B` for embeddings (whose update is
/// `(B A)ᵀ`), and `<module>.weight` / `.bias` for `modules_to_save`.
enum PEFTAdapter {
    static let configName = "adapter_config.json"
    static let weightNames = ["adapter_model.safetensors", "adapter_model.bin"]
    static let keyPrefix = "base_model.model."

    /// True when `path` is a folder holding an `adapter_config.json`.
    static func isAdapter(_ path: String) -> Bool {
        FileSystem.isFolder(path) && FileSystem.exists(FileSystem.join(path, configName))
    }

    /// The adapter in the base's canonical names. Errors name the file and the key.
    static func read(_ folder: String, base: ModelGraph, registry: FormatRegistry) throws -> LoRAAdapter {
        let configPath = FileSystem.join(folder, configName)
        let config = try Amalgam.readJSON(configPath)
        let settings = try AmalgamError.withContext(file: configPath) { try Settings(config) }
        guard let weights = weightNames.map({ FileSystem.join(folder, $0) }).first(where: FileSystem.exists) else {
            throw AmalgamError(
                .notFound, "the adapter has no \(weightNames.joined(separator: " or ")) beside its \(configName)",
                file: folder)
        }
        let tensors = try registry.read(weights).graph.tensors
        return try AmalgamError.withContext(file: weights) {
            try adapter(tensors, settings: settings, base: base)
        }
    }

    /// What `adapter_config.json` decides about the update.
    struct Settings {
        var rank: Int
        var alpha: Double
        var rankStabilised: Bool
        var fanInFanOut: Bool
        var rankPattern: [(key: String, value: Double)]
        var alphaPattern: [(key: String, value: Double)]
        var baseModel: String?

        init(_ config: JSONValue) throws(AmalgamError) {
            guard config.objectValue != nil else {
                throw AmalgamError(.invalidFormat, "the adapter config is not a JSON object")
            }
            let type = config["peft_type"]?.stringValue ?? "LORA"
            guard type.uppercased() == "LORA" else {
                throw AmalgamError(.unsupported, "peft_type '\(type)': Amalgam reads LoRA adapters only")
            }
            for (key, what) in [("use_dora", "DoRA"), ("lora_bias", "LoRA biases")] where config[key] == .bool(true) {
                throw AmalgamError(.unsupported, "\(key) is true: \(what) adapters are not supported")
            }
            func number(_ key: String) throws(AmalgamError) -> Double? {
                guard let value = config[key], value != .null else { return nil }
                guard let number = value.doubleValue, number.isFinite else {
                    throw AmalgamError(.invalidFormat, "\(key) is \(value.serialized()), not a number")
                }
                return number
            }
            func pattern(_ key: String) throws(AmalgamError) -> [(key: String, value: Double)] {
                guard let value = config[key], value != .null else { return [] }
                guard let entries = value.objectValue else {
                    throw AmalgamError(.invalidFormat, "\(key) is \(value.typeName), not an object")
                }
                var result: [(key: String, value: Double)] = []
                for (name, entry) in entries {
                    guard let number = entry.doubleValue, number.isFinite else {
                        throw AmalgamError(.invalidFormat, "\(key)['\(name)'] is \(entry.serialized()), not a number")
                    }
                    result.append((name, number))
                }
                return result
            }
            rank = Int(try number("r") ?? 8)
            alpha = try number("lora_alpha") ?? 8
            rankStabilised = config["use_rslora"] == .bool(true)
            fanInFanOut = config["fan_in_fan_out"] == .bool(true)
            rankPattern = try pattern("rank_pattern")
            alphaPattern = try pattern("alpha_pattern")
            baseModel = config["base_model_name_or_path"]?.stringValue
        }

        /// PEFT's scaling of `module` with rank `r`: `alpha / r`, or `alpha / sqrt(r)` with
        /// rsLoRA, alpha from `alpha_pattern` when a key matches (as PEFT's `get_pattern_key`).
        func scale(module: String, rank r: Int) throws(AmalgamError) -> Float {
            let alpha = try Self.matching(alphaPattern, module)?.value ?? self.alpha
            guard r > 0 else { return 0 }
            return Float(rankStabilised ? alpha / Double(r).squareRoot() : alpha / Double(r))
        }

        /// The first pattern `key` with `(.*\.)?(key)$` matching the module name.
        static func matching(
            _ patterns: [(key: String, value: Double)], _ module: String
        ) throws(AmalgamError) -> (key: String, value: Double)? {
            for entry in patterns {
                let expression: NSRegularExpression
                do { expression = try NSRegularExpression(pattern: "^(.*\\.)?(\(entry.key))$") } catch {
                    throw AmalgamError(.invalidFormat, "pattern '\(entry.key)' is not a regular expression")
                }
                let range = NSRange(module.startIndex..., in: module)
                if expression.firstMatch(in: module, range: range) != nil { return entry }
            }
            return nil
        }
    }

    /// Pairs the `lora_A` / `lora_B` tensors by module and maps them onto the base.
    static func adapter(_ tensors: [Tensor], settings: Settings, base: ModelGraph) throws -> LoRAAdapter {
        var halves: [String: (a: Tensor?, b: Tensor?, embedding: Bool)] = [:]
        var order: [String] = []
        var replacements: [Tensor] = []
        for tensor in tensors {
            let key = tensor.name.hasPrefix(keyPrefix) ? String(tensor.name.dropFirst(keyPrefix.count)) : tensor.name
            let suffixes: [(String, Bool, Bool)] = [
                (".lora_A.weight", true, false), (".lora_B.weight", false, false),
                (".lora_embedding_A", true, true), (".lora_embedding_B", false, true),
            ]
            guard let (suffix, isA, isEmbedding) = suffixes.first(where: { key.hasSuffix($0.0) }) else {
                if key.contains(".lora_") {
                    throw AmalgamError(
                        .unsupported,
                        "is not a lora_A / lora_B weight Amalgam knows (DoRA and LoRA biases are not supported)",
                        tensor: tensor.name)
                }
                var replacement = tensor
                replacement.name = try baseName(key, base: base, tensor: tensor.name)
                replacements.append(replacement)
                continue
            }
            let module = String(key.dropLast(suffix.count))
            guard tensor.shape.rank == 2 else {
                throw AmalgamError(
                    .invalidFormat, "has shape \(tensor.shape); LoRA factors are matrices", tensor: tensor.name)
            }
            if halves[module] == nil {
                halves[module] = (nil, nil, isEmbedding)
                order.append(module)
            }
            if isA { halves[module]!.a = tensor } else { halves[module]!.b = tensor }
        }
        var updates: [LoRAAdapter.Update] = []
        for module in order {
            let (a, b, isEmbedding) = halves[module]!
            guard let a, let b else {
                throw AmalgamError(
                    .invalidFormat,
                    "module '\(module)' has lora_\(a == nil ? "B" : "A") but no lora_\(a == nil ? "A" : "B")")
            }
            guard a.shape.dimensions[0] == b.shape.dimensions[1] else {
                throw AmalgamError(
                    .invalidFormat,
                    "module '\(module)': lora_A is \(a.shape) and lora_B is \(b.shape); their ranks differ")
            }
            let target = try baseName(module + ".weight", base: base, tensor: a.name)
            let rank = a.shape.dimensions[0]
            // PEFT's embedding update is (B A)ᵀ; with fan_in_fan_out (Conv1D) it is too.
            var update = LoRAAdapter.Update(
                target: target, b: b, a: a, scale: try settings.scale(module: module, rank: rank),
                transposed: isEmbedding || settings.fanInFanOut)
            if let pattern = try Settings.matching(settings.rankPattern, module), Int(pattern.value) != rank {
                throw AmalgamError(
                    .invalidFormat,
                    "rank_pattern gives module '\(module)' rank \(Int(pattern.value)), its factors have \(rank)")
            }
            let expected = base[target]!.shape
            if update.targetShape != expected {
                // A Conv1D-style target stored [in, out] without fan_in_fan_out: refuse rather than guess.
                throw AmalgamError(
                    .mismatch,
                    "module '\(module)': B A is \(b.shape.dimensions[0])x\(a.shape.dimensions[1])\(update.transposed ? " (transposed)" : ""), the base's tensor is \(expected)",
                    tensor: target)
            }
            update.target = target
            updates.append(update)
        }
        return LoRAAdapter(
            updates: updates, replacements: replacements, format: "peft-lora", baseModel: settings.baseModel)
    }

    /// The base's name for an adapter key: as it is, or with a leading `model.` dropped or added
    /// (adapters trained on a bare backbone or on a task wrapper).
    static func baseName(_ key: String, base: ModelGraph, tensor: String) throws(AmalgamError) -> String {
        let candidates = [key, key.hasPrefix("model.") ? String(key.dropFirst(6)) : "model." + key]
        guard let name = candidates.first(where: { base[$0] != nil }) else {
            throw AmalgamError(.mismatch, "names '\(key)', which the base does not have", tensor: tensor)
        }
        return name
    }
}
