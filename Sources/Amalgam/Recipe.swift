/// A merge recipe: the choices of `amalgam merge` in a JSON file, with several outputs.
///
/// ```json
/// {
///   "base": "base.safetensors",
///   "sources": ["a.safetensors", "b.npz"],
///   "method": "axis",
///   "options": {"k": 76, "exact_svd": false},
///   "skip": ["*.embed_tokens.*"],
///   "allow_missing": false,
///   "seed": 0,
///   "threads": 2,
///   "outputs": [
///     {"path": "merged.safetensors"},
///     {"path": "merged.npz", "compress": true, "dtype": "f16"}
///   ],
///   "factors": "factors.safetensors",
///   "report": "report.json",
///   "tune": {"data": "target.npz", "eval": "target-test.npz", "sv_fraction": 0.1, "epochs": 10,
///            "outputs": [{"path": "tuned.safetensors"}, {"path": "tuned.onnx", "template": "base.onnx"}]}
/// }
/// ```
/// Relative paths are resolved against the recipe's folder. Unknown keys are errors. The
/// optional `tune` stage trains the first merge output (Stage 2 uses the recipe's base and
/// factors) and writes its own outputs.
public struct RecipePlan: Sendable {
    public var merge: MergeOptions
    public var tune: TuneOptions?
}

public enum Recipe {
    static let topLevelKeys: Set<String> = [
        "base", "sources", "method", "options", "skip", "allow_missing", "seed", "threads", "outputs", "factors",
        "report", "tune",
    ]
    static let tuneKeys: Set<String> = [
        "data", "eval", "train", "sv_fraction", "sv_count", "sv_init", "epochs", "lr", "batch", "seed", "weight_decay",
        "clip",
        "early_stopping", "arch", "activation", "heads", "pooling", "labels", "outputs", "log",
    ]
    static let outputKeys: Set<String> = [
        "path", "format", "dtype", "max_shard_size", "compress", "keep_dtype", "quant", "template", "external_data",
    ]

    /// Parses the recipe at `path` into merge (and tuning) options.
    public static func load(_ path: String) throws -> RecipePlan {
        let file = try AmalgamError.withContext(file: path) { try MappedFile(path: path) }
        return try AmalgamError.withContext(file: path) {
            let json = try file.region.withUnsafeBytes { (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }
            return try parse(json, folder: FileSystem.folder(of: path))
        }
    }

    static func parse(_ json: JSONValue, folder: String) throws -> RecipePlan {
        func fail(_ message: String) -> AmalgamError { AmalgamError(.invalidFormat, "recipe: \(message)") }
        guard let members = json.objectValue else { throw fail("the recipe must be a JSON object") }
        for (key, _) in members where !topLevelKeys.contains(key) {
            throw fail("unknown key '\(key)' (known: \(topLevelKeys.sorted().joined(separator: ", ")))")
        }
        func resolve(_ path: String) -> String { path.hasPrefix("/") || folder == "." ? path : folder + "/" + path }
        func string(_ value: JSONValue?, _ key: String) throws -> String? {
            guard let value else { return nil }
            guard let text = value.stringValue else { throw fail("'\(key)' must be a string, not \(value.typeName)") }
            return text
        }
        guard let base = try string(json["base"], "base") else { throw fail("missing 'base'") }
        guard let sourceValues = json["sources"]?.arrayValue, !sourceValues.isEmpty else {
            throw fail("'sources' must be a non-empty array of paths")
        }
        let sources = try sourceValues.map { try string($0, "sources") ?? "" }
        var methodOptions: [String: String] = [:]
        if let options = json["options"] {
            guard let pairs = options.objectValue else { throw fail("'options' must be an object") }
            for (key, value) in pairs {
                switch value {
                case .number(let text): methodOptions[key] = text
                case .bool(let flag): methodOptions[key] = flag ? "true" : "false"
                case .string(let text): methodOptions[key] = text
                default: throw fail("option '\(key)' must be a number, boolean or string")
                }
            }
        }
        let method = try MergeMethods.make(
            try string(json["method"], "method") ?? "axis", options: methodOptions, sourceCount: sources.count)
        func parseOutputs(_ value: JSONValue?, _ key: String) throws -> [MergeOutput] {
            guard let outputValues = value?.arrayValue, !outputValues.isEmpty else {
                throw fail("'\(key)' must be a non-empty array")
            }
            var outputs: [MergeOutput] = []
            for value in outputValues {
                guard let pairs = value.objectValue else { throw fail("each output must be an object with a 'path'") }
                for (key, _) in pairs where !outputKeys.contains(key) {
                    throw fail("unknown output key '\(key)' (known: \(outputKeys.sorted().joined(separator: ", ")))")
                }
                guard let path = try string(value["path"], "path") else { throw fail("an output lacks its 'path'") }
                var output = MergeOutput(path: resolve(path), format: try string(value["format"], "format"))
                if let name = try string(value["dtype"], "dtype") {
                    guard let dtype = DType(name: name), [.f32, .f16, .bf16].contains(dtype) else {
                        throw fail("output dtype must be f32, f16 or bf16, not '\(name)'")
                    }
                    output.dtype = dtype
                }
                if let size = try string(value["max_shard_size"], "max_shard_size") {
                    guard let bytes = ByteSize.parse(size) else {
                        throw fail("max_shard_size '\(size)' is not a size such as 5GB")
                    }
                    output.maximumShardBytes = bytes
                }
                if let template = try string(value["template"], "template") {
                    output.writerOptions["template"] = resolve(template)
                }
                for (key, option) in [
                    ("compress", "compress"), ("keep_dtype", "keep-dtype"), ("external_data", "external-data"),
                ] {
                    if case .bool(true)? = value[key] { output.writerOptions[option] = "true" }
                }
                if let quant = try string(value["quant"], "quant") {
                    guard Amalgam.quantizationChoices.contains(quant.lowercased()) else {
                        throw fail(
                            "output quant must be one of \(Amalgam.quantizationChoices.joined(separator: ", ")), not '\(quant)'"
                        )
                    }
                    output.writerOptions["quant"] = quant.lowercased()
                }
                outputs.append(output)
            }
            return outputs
        }
        let outputs = try parseOutputs(json["outputs"], "outputs")
        var options = MergeOptions(base: resolve(base), sources: sources.map(resolve), method: method, outputs: outputs)
        options.factors = try string(json["factors"], "factors").map(resolve)
        options.report = try string(json["report"], "report").map(resolve)
        if let skip = json["skip"] {
            guard let patterns = skip.arrayValue else { throw fail("'skip' must be an array of patterns") }
            options.skip = try patterns.map { NamePattern(try string($0, "skip") ?? "") }
        }
        if case .bool(let flag)? = json["allow_missing"] { options.allowMissing = flag }
        if let seed = json["seed"] {
            guard let value = seed.uint64Value else { throw fail("'seed' must be a non-negative integer") }
            options.seed = value
        }
        if let threads = json["threads"] {
            guard let value = threads.uint64Value, (1...256).contains(value) else {
                throw fail("'threads' must be an integer from 1 to 256")
            }
            options.threads = Int(value)
        }
        var plan = RecipePlan(merge: options, tune: nil)
        if let tune = json["tune"] {
            plan.tune = try parseTune(
                tune, merge: options, outputs: { try parseOutputs($0, "tune.outputs") }, resolve: resolve, fail: fail)
        }
        return plan
    }

    /// The `tune` stage: the options of `amalgam tune` by their names in snake case.
    static func parseTune(
        _ json: JSONValue, merge: MergeOptions, outputs: (JSONValue?) throws -> [MergeOutput],
        resolve: (String) -> String,
        fail: (String) -> AmalgamError
    ) throws -> TuneOptions {
        guard let members = json.objectValue else { throw fail("'tune' must be an object") }
        for (key, _) in members where !tuneKeys.contains(key) {
            throw fail("unknown tune key '\(key)' (known: \(tuneKeys.sorted().joined(separator: ", ")))")
        }
        func text(_ key: String) throws -> String? {
            guard let value = json[key] else { return nil }
            guard let text = value.stringValue else { throw fail("tune '\(key)' must be a string") }
            return text
        }
        func number(_ key: String) throws -> Double? {
            guard let value = json[key] else { return nil }
            guard let number = value.doubleValue else { throw fail("tune '\(key)' must be a number") }
            return number
        }
        func whole(_ key: String, minimum: Int) throws -> Int? {
            guard let value = try number(key) else { return nil }
            guard value == value.rounded(), value >= Double(minimum), value < 1e9 else {
                throw fail("tune '\(key)' must be a whole number of at least \(minimum)")
            }
            return Int(value)
        }
        guard let data = try text("data") else { throw fail("'tune' needs 'data'") }
        let modeName = try text("train") ?? "sv"
        guard let mode = TrainingMode(rawValue: modeName) else {
            throw fail("tune 'train' must be sv, head or full, not '\(modeName)'")
        }
        guard let merged = merge.outputs.first?.path else { throw fail("'tune' needs a merge output to train") }
        var setup = TuningSetup(mode: mode)
        if let name = try text("arch") {
            guard let value = Architecture(rawValue: name) else {
                throw fail("tune 'arch' must be mlp, bert or vit, not '\(name)'")
            }
            setup.architecture = value
        }
        if let name = try text("activation") {
            guard let value = Activation(rawValue: name) else {
                throw fail("tune 'activation' must be relu, gelu, gelu_tanh or tanh, not '\(name)'")
            }
            setup.activation = value
        }
        if let name = try text("pooling") {
            guard let value = Pooling(rawValue: name) else {
                throw fail("tune 'pooling' must be mean, cls or pooler, not '\(name)'")
            }
            setup.transformer.pooling = value
        }
        setup.transformer.heads = try whole("heads", minimum: 1)
        if let fraction = try number("sv_fraction") {
            guard fraction > 0, fraction <= 1 else { throw fail("tune 'sv_fraction' must be in (0, 1]") }
            setup.singularValueCount = .fraction(fraction)
        }
        if let count = try whole("sv_count", minimum: 1) { setup.singularValueCount = .count(count) }
        if let name = try text("sv_init") {
            guard let value = SingularValueStart(rawValue: name) else {
                throw fail("tune 'sv_init' must be zero or merged, not '\(name)'")
            }
            setup.singularValueStart = value
        }
        setup.training.epochs = try whole("epochs", minimum: 0) ?? 10
        setup.training.learningRate = try number("lr") ?? setup.training.learningRate
        setup.training.batchSize = try whole("batch", minimum: 1) ?? 128
        setup.training.seed = UInt64(try whole("seed", minimum: 0) ?? 0)
        setup.training.weightDecay = try number("weight_decay") ?? 0.1
        setup.training.clipNorm = try number("clip") ?? 1.0
        setup.training.earlyStoppingPatience = try whole("early_stopping", minimum: 1)
        var options = TuneOptions(
            model: merged, data: resolve(data), setup: setup, outputs: try outputs(json["outputs"]))
        options.eval = try text("eval").map(resolve)
        options.log = try text("log").map(resolve)
        options.classes = try whole("labels", minimum: 2)
        if mode == .singularValues {
            guard let factors = merge.factors else { throw fail("'tune' with train sv needs the merge's 'factors'") }
            options.base = merge.base
            options.factors = factors
        }
        return options
    }
}
