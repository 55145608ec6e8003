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
///   "report": "report.json"
/// }
/// ```
/// Relative paths are resolved against the recipe's folder. Unknown keys are errors.
public enum Recipe {
    static let topLevelKeys: Set<String> = ["base", "sources", "method", "options", "skip", "allow_missing", "seed", "threads", "outputs", "factors", "report"]
    static let outputKeys: Set<String> = ["path", "format", "dtype", "max_shard_size", "compress", "keep_dtype", "quant", "template", "external_data"]

    /// Parses the recipe at `path` into merge options.
    public static func load(_ path: String) throws -> MergeOptions {
        let file = try AmalgamError.withContext(file: path) { try MappedFile(path: path) }
        return try AmalgamError.withContext(file: path) {
            let json = try file.region.withUnsafeBytes { (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }
            return try parse(json, folder: FileSystem.folder(of: path))
        }
    }

    static func parse(_ json: JSONValue, folder: String) throws -> MergeOptions {
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
        guard let sourceValues = json["sources"]?.arrayValue, !sourceValues.isEmpty else { throw fail("'sources' must be a non-empty array of paths") }
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
        let method = try MergeMethods.make(try string(json["method"], "method") ?? "axis", options: methodOptions, sourceCount: sources.count)
        guard let outputValues = json["outputs"]?.arrayValue, !outputValues.isEmpty else { throw fail("'outputs' must be a non-empty array") }
        var outputs: [MergeOutput] = []
        for value in outputValues {
            guard let pairs = value.objectValue else { throw fail("each output must be an object with a 'path'") }
            for (key, _) in pairs where !outputKeys.contains(key) {
                throw fail("unknown output key '\(key)' (known: \(outputKeys.sorted().joined(separator: ", ")))")
            }
            guard let path = try string(value["path"], "path") else { throw fail("an output lacks its 'path'") }
            var output = MergeOutput(path: resolve(path), format: try string(value["format"], "format"))
            if let name = try string(value["dtype"], "dtype") {
                guard let dtype = DType(name: name), [.f32, .f16, .bf16].contains(dtype) else { throw fail("output dtype must be f32, f16 or bf16, not '\(name)'") }
                output.dtype = dtype
            }
            if let size = try string(value["max_shard_size"], "max_shard_size") {
                guard let bytes = ByteSize.parse(size) else { throw fail("max_shard_size '\(size)' is not a size such as 5GB") }
                output.maximumShardBytes = bytes
            }
            if let template = try string(value["template"], "template") { output.writerOptions["template"] = resolve(template) }
            for (key, option) in [("compress", "compress"), ("keep_dtype", "keep-dtype"), ("external_data", "external-data")] {
                if case .bool(true)? = value[key] { output.writerOptions[option] = "true" }
            }
            if let quant = try string(value["quant"], "quant") {
                guard Amalgam.quantizationChoices.contains(quant.lowercased()) else {
                    throw fail("output quant must be one of \(Amalgam.quantizationChoices.joined(separator: ", ")), not '\(quant)'")
                }
                output.writerOptions["quant"] = quant.lowercased()
            }
            outputs.append(output)
        }
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
            guard let value = threads.uint64Value, (1...256).contains(value) else { throw fail("'threads' must be an integer from 1 to 256") }
            options.threads = Int(value)
        }
        return options
    }
}
