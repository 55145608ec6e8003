/// mergekit's merge configuration (`mergekit-yaml CONFIG OUT`), in YAML or the same keys in
/// JSON, read into a recipe. Keys: `merge_method`, `base_model`, `models` (each `model` and
/// its `parameters`), `parameters`, `dtype`, `out_dtype`, `tokenizer_source` (`base`, `union` or a model); and
/// Amalgam's own recipe keys (`outputs`, `threads`, `seed`, `report`, `factors`, ...). A
/// parameter is a value, a gradient over layers (`[0, 0.5, 1]`) or a list filtered by tensor
/// name (`- filter: self_attn` / `value: ...`), resolved per tensor as mergekit does: the
/// model's own setting, then the merge's, then the method's default. A key this reader does
/// not support (`modules`, `tokenizer`, `chat_template`)
/// is refused naming the key, never ignored. Relative model paths are resolved against the
/// current directory, as mergekit resolves them.
enum MergekitConfiguration {
    /// The keys of mergekit's configuration read here.
    static let mergekitKeys = [
        "merge_method", "base_model", "models", "slices", "parameters", "dtype", "out_dtype", "tokenizer_source",
        "out_shard_size",
    ]
    /// mergekit keys not supported (yet): refused by name.
    static let unsupportedKeys = ["modules", "tokenizer", "chat_template"]
    /// Amalgam's recipe keys that mix in (every top-level recipe setting but the merge's
    /// inputs and method, which mergekit's keys give).
    static var amalgamSettings: [Setting] {
        Recipe.top.settings.filter { ![.base, .source, .method].contains($0) }
    }

    /// True for documents in mergekit's shape (they name a `merge_method`).
    static func matches(_ json: JSONValue) -> Bool { json["merge_method"] != nil }

    /// The recipe in `json`. - Parameter output: the command line's `--output` (mergekit's OUT).
    static func parse(_ json: JSONValue, folder: String, output: String?) throws -> RecipePlan {
        guard let members = json.objectValue else { throw AmalgamError(.usage, "the configuration must be a mapping") }
        let amalgamKeys = Dictionary(amalgamSettings.map { ($0.recipeKey, $0) }, uniquingKeysWith: { a, _ in a })
        var values = SettingValues.recipe("")
        for (key, value) in members {
            if mergekitKeys.contains(key) || key == "outputs" { continue }
            if unsupportedKeys.contains(key) {
                throw AmalgamError(.usage, "'\(key)' is a mergekit key Amalgam does not support yet")
            }
            guard let setting = amalgamKeys[key] else {
                let known = (mergekitKeys + amalgamKeys.keys.sorted() + ["outputs"]).sorted()
                throw AmalgamError(
                    .usage,
                    "unknown key '\(key)'\(Suggestion.hint(for: key, among: known)) (known: \(known.joined(separator: ", ")))"
                )
            }
            if setting.repeatable {
                guard let items = value.arrayValue else {
                    throw AmalgamError(.usage, "'\(key)' must be a list, not \(value.typeName)")
                }
                for (index, item) in items.enumerated() {
                    try values.add(try setting.decode(item, label: "\(key)[\(index)]"), for: setting, label: key)
                }
            } else {
                try values.add(try setting.decode(value, label: key), for: setting, label: key)
            }
        }
        guard let methodName = json["merge_method"]?.stringValue else {
            throw AmalgamError(.usage, "'merge_method' must be a method name")
        }
        let name = MergeMethods.canonicalName(methodName)
        guard GeneralizedTaskArithmeticMerge.names.contains(name) || MergeMethods.mergekitOnlyNames.contains(name)
        else {
            let known = (GeneralizedTaskArithmeticMerge.names + MergeMethods.mergekitOnlyNames).sorted()
            throw AmalgamError(
                .usage,
                "merge_method '\(methodName)' is not one of mergekit's methods Amalgam has\(Suggestion.hint(for: name, among: known)) (known: \(known.joined(separator: ", ")))"
            )
        }
        var tokenizerSource: TokenizerSource? = nil
        if let source = json["tokenizer_source"], source != .null {
            guard let text = source.stringValue, !text.isEmpty else {
                throw AmalgamError(
                    .usage, "'tokenizer_source' must be base, union or a model's path, not \(source.typeName)")
            }
            tokenizerSource = text == "base" ? .base : text == "union" ? .union : .model(text)
        }

        let shared = try json["parameters"].map { try readParameters($0, at: "parameters") } ?? [:]
        var basePath: String? = nil
        if let value = json["base_model"], value != .null {
            guard let text = value.stringValue, !text.isEmpty else {
                throw AmalgamError(.usage, "'base_model' must be a path to a model, not \(value.typeName)")
            }
            basePath = text
        }
        let dtype = try readDType(
            json["out_dtype"] ?? json["dtype"], key: json["out_dtype"] != nil ? "out_dtype" : "dtype")
        var outputs = try readOutputs(json, output: output, folder: folder, dtype: dtype)
        if let size = try json["out_shard_size"].map({ try readShardSize($0) }) {
            for index in outputs.indices where outputs[index].settings.maximumShardBytes == nil {
                outputs[index].settings.maximumShardBytes = size
            }
        }
        if let items = json["slices"], items != .null {
            if json["models"] != nil { throw AmalgamError(.usage, "give 'models' or 'slices', not both") }
            var merge = try slicedMerge(
                items, method: name, basePath: basePath, shared: shared, values: values, outputs: outputs)
            merge.tokenizerSource = tokenizerSource
            merge.factors = merge.factors.map { resolve($0, folder: folder) }
            merge.report = merge.report.map { resolve($0, folder: folder) }
            merge.reportHTML = merge.reportHTML.map { resolve($0, folder: folder) }
            return RecipePlan(merge: merge, tune: nil)
        }
        if name == "passthrough" { throw AmalgamError(.usage, "merge_method 'passthrough' stacks 'slices': give them") }

        // The models, in the order given.
        guard let modelItems = json["models"]?.arrayValue, !modelItems.isEmpty else {
            throw AmalgamError(.usage, "'models' must be a non-empty list (each an entry with 'model')")
        }
        var models: [(path: String, parameters: [String: ParameterSetting])] = []
        for (index, item) in modelItems.enumerated() {
            let label = "models[\(index)]"
            let reference: JSONValue?
            var parameters: [String: ParameterSetting] = [:]
            if item.stringValue != nil {
                reference = item
            } else {
                guard let fields = item.objectValue else {
                    throw AmalgamError(.usage, "'\(label)' must be a mapping with 'model', not \(item.typeName)")
                }
                for (key, _) in fields where key != "model" && key != "parameters" {
                    throw AmalgamError(.usage, "unknown key '\(label).\(key)' (known: model, parameters)")
                }
                reference = item["model"]
                if let given = item["parameters"] { parameters = try readParameters(given, at: "\(label).parameters") }
            }
            guard let path = reference?.stringValue, !path.isEmpty else {
                throw AmalgamError(.usage, "'\(label).model' must be a path to a model (a folder or a file)")
            }
            models.append((path, parameters))
        }
        // Who is the base and who are the sources, as each method sees its inputs.
        let needsBase =
            GeneralizedTaskArithmeticMerge.names.contains(name) || ["slerp", "model_stock", "sce"].contains(name)
        let baseIsInput =
            ["linear", "karcher"].contains(name) || (["nuslerp", "multislerp"].contains(name) && basePath == nil)
        if needsBase && basePath == nil {
            throw AmalgamError(.usage, "merge_method '\(name)' needs 'base_model'")
        }
        var baseParameters: [String: ParameterSetting] = [:]
        var sources: [(path: String, parameters: [String: ParameterSetting])] = []
        var baseInputPosition: Int? = nil
        if baseIsInput {
            // Every model is an input; the base (or the first model) is also the reference.
            var inputs = models
            if let basePath, !inputs.contains(where: { $0.path == basePath }) { inputs.append((basePath, [:])) }
            let position = basePath.flatMap { path in inputs.firstIndex { $0.path == path } } ?? 0
            basePath = inputs[position].path
            baseParameters = inputs[position].parameters
            sources = inputs.enumerated().filter { $0.offset != position }.map(\.element)
            baseInputPosition = position
        } else {
            for model in models {
                if model.path == basePath { baseParameters = model.parameters } else { sources.append(model) }
            }
        }
        guard !sources.isEmpty else { throw AmalgamError(.usage, "'models' lists no model besides the base") }

        let method = try MergeMethods.mergekitMethod(
            name, defaultWeight: nil, withoutBase: baseIsInput && !["linear", "karcher"].contains(name))
        let parameters = MergeParameters(shared: shared, sources: sources.map(\.parameters), base: baseParameters)
        try checkParameters(parameters, method: method, models: models.map(\.path))
        try checkRequired(
            parameters, method: method, sourceLabels: sources.map(\.path), baseLabel: basePath!, where: "'parameters'")

        var merge = try MergeOptions(
            values, base: basePath!, sources: sources.map(\.path), method: method, outputs: outputs)
        merge.parameters = parameters
        merge.baseInputPosition = baseInputPosition
        merge.tokenizerSource = tokenizerSource
        merge.factors = merge.factors.map { resolve($0, folder: folder) }
        merge.report = merge.report.map { resolve($0, folder: folder) }
        merge.reportHTML = merge.reportHTML.map { resolve($0, folder: folder) }
        return RecipePlan(merge: merge, tune: nil)
    }

    /// Outputs: `outputs`, or the command line's OUT, in the configuration's dtype.
    static func readOutputs(_ json: JSONValue, output: String?, folder: String, dtype: DType?) throws -> [ModelOutput] {
        var outputs: [ModelOutput]
        if json["outputs"] != nil {
            if output != nil { throw AmalgamError(.usage, "give --output or the configuration's 'outputs', not both") }
            outputs = try Recipe.readOutputs(json["outputs"], at: "outputs", resolve: { resolve($0, folder: folder) })
        } else {
            guard let output else {
                throw AmalgamError(.usage, "missing --output OUT (where to write the merge; mergekit's OUT)")
            }
            outputs = [ModelOutput(path: output)]
        }
        for index in outputs.indices where outputs[index].settings.dtype == nil {
            outputs[index].settings.dtype = dtype
        }
        return outputs
    }

    /// A merge of `slices`: each `sources` (model, layer_range, parameters), an optional
    /// `base_model` and `parameters`.
    static func slicedMerge(
        _ json: JSONValue, method name: String, basePath: String?, shared: [String: ParameterSetting],
        values: SettingValues, outputs: [ModelOutput]
    ) throws -> MergeOptions {
        guard let items = json.arrayValue, !items.isEmpty else {
            throw AmalgamError(.usage, "'slices' must be a non-empty list (each with 'sources')")
        }
        var slices: [LayerSlice] = []
        for (index, item) in items.enumerated() {
            let label = "slices[\(index)]"
            for (key, _) in item.objectValue ?? [] where !["sources", "base_model", "parameters"].contains(key) {
                throw AmalgamError(.usage, "unknown key '\(label).\(key)' (known: base_model, parameters, sources)")
            }
            guard let sourceItems = item["sources"]?.arrayValue, !sourceItems.isEmpty else {
                throw AmalgamError(
                    .usage, "'\(label).sources' must be a non-empty list (each with model and layer_range)")
            }
            var sources: [LayerSlice.Source] = []
            for (position, source) in sourceItems.enumerated() {
                let at = "\(label).sources[\(position)]"
                for (key, _) in source.objectValue ?? [] where !["model", "layer_range", "parameters"].contains(key) {
                    throw AmalgamError(.usage, "unknown key '\(at).\(key)' (known: layer_range, model, parameters)")
                }
                guard let model = source["model"]?.stringValue, !model.isEmpty else {
                    throw AmalgamError(.usage, "'\(at).model' must be a path to a model")
                }
                guard let range = source["layer_range"]?.arrayValue, range.count == 2,
                    let start = range[0].uint64Value.map(Int.init), let end = range[1].uint64Value.map(Int.init),
                    start < end
                else {
                    throw AmalgamError(.usage, "'\(at).layer_range' must be [start, end] with start < end")
                }
                let parameters = try source["parameters"].map { try readParameters($0, at: "\(at).parameters") } ?? [:]
                sources.append(LayerSlice.Source(model: model, layers: start..<end, parameters: parameters))
            }
            let parameters = try item["parameters"].map { try readParameters($0, at: "\(label).parameters") } ?? [:]
            slices.append(
                LayerSlice(sources: sources, baseModel: item["base_model"]?.stringValue, parameters: parameters))
        }
        let needsBase =
            GeneralizedTaskArithmeticMerge.names.contains(name) || ["slerp", "model_stock", "sce"].contains(name)
        if needsBase, let index = slices.firstIndex(where: { ($0.baseModel ?? basePath) == nil }) {
            throw AmalgamError(.usage, "merge_method '\(name)' needs 'base_model' (slices[\(index)] has none)")
        }
        let withoutBase = ["nuslerp", "multislerp"].contains(name) && basePath == nil
        let method = try MergeMethods.mergekitMethod(name, defaultWeight: nil, withoutBase: withoutBase)
        try MergeMethods.checkParameters(shared.keys.sorted(), of: method) { "parameters.\($0)" }
        for (index, slice) in slices.enumerated() {
            try MergeMethods.checkParameters(slice.parameters.keys.sorted(), of: method) {
                "slices[\(index)].parameters.\($0)"
            }
            for (position, source) in slice.sources.enumerated() {
                try MergeMethods.checkParameters(source.parameters.keys.sorted(), of: method) {
                    "slices[\(index)].sources[\(position)].parameters.\($0)"
                }
            }
        }
        let base = basePath ?? slices[0].sources[0].model
        var models: [String] = []
        for slice in slices {
            for source in slice.sources where source.model != base && !models.contains(source.model) {
                models.append(source.model)
            }
        }
        var merge = try MergeOptions(values, base: base, sources: models, method: method, outputs: outputs)
        merge.slices = slices
        merge.parameters = MergeParameters(shared: shared)
        return merge
    }

    /// Amalgam's own output paths in the configuration are relative to its folder.
    static func resolve(_ path: String, folder: String) -> String {
        path.hasPrefix("/") || folder == "." ? path : folder + "/" + path
    }

    /// mergekit's `--out-shard-size` syntax: a count of bytes with an optional K, M or B
    /// (thousand, million, billion) suffix (`5B`, `500M`), or a whole number.
    static func readShardSize(_ value: JSONValue) throws(AmalgamError) -> Int {
        let text: String
        switch value {
        case .number(let number): text = number
        case .string(let string): text = string.trimmingCharacters(in: .whitespaces).uppercased()
        default: throw AmalgamError(.usage, "'out_shard_size' must be a size such as 5B or 500M, not \(value.typeName)")
        }
        let scales: [Character: Int] = ["K": 1_000, "M": 1_000_000, "B": 1_000_000_000]
        let scale = text.last.flatMap { scales[$0] } ?? 1
        let digits = scale == 1 ? Substring(text) : text.dropLast()
        guard let count = Int(digits), count > 0, count.multipliedReportingOverflow(by: scale).overflow == false else {
            throw AmalgamError(.usage, "'out_shard_size' must be a size such as 5B or 500M, not '\(text)'")
        }
        return count * scale
    }

    /// mergekit's dtype names as output dtypes (nil: keep the inputs').
    static func readDType(_ value: JSONValue?, key: String) throws(AmalgamError) -> DType? {
        guard let value, value != .null else { return nil }
        switch value.stringValue {
        case "float32", "fp32", "f32": return .f32
        case "float16", "fp16", "f16", "half": return .f16
        case "bfloat16", "bf16": return .bf16
        default:
            throw AmalgamError(
                .usage,
                "'\(key)' must be float32, float16 or bfloat16, not \(value.stringValue.map { "'\($0)'" } ?? value.typeName)"
            )
        }
    }

    /// A `parameters` mapping: each a value, a gradient list or a filtered list.
    static func readParameters(_ json: JSONValue, at path: String) throws(AmalgamError) -> [String: ParameterSetting] {
        guard let members = json.objectValue else {
            throw AmalgamError(.usage, "'\(path)' must be a mapping of parameters, not \(json.typeName)")
        }
        var result: [String: ParameterSetting] = [:]
        for (key, value) in members { result[key] = try readSetting(value, at: "\(path).\(key)") }
        return result
    }

    static func readSetting(_ json: JSONValue, at path: String) throws(AmalgamError) -> ParameterSetting {
        switch json {
        case .array(let items):
            guard !items.isEmpty else { throw AmalgamError(.usage, "'\(path)' is an empty list") }
            if items.allSatisfy({ $0.objectValue != nil }) {
                return .filtered(
                    try items.enumerated().map { (index, item) throws(AmalgamError) in
                        try readFiltered(item, at: "\(path)[\(index)]")
                    })
            }
            return .gradient(
                try items.enumerated().map { (index, item) throws(AmalgamError) in
                    try readScalar(item, at: "\(path)[\(index)]")
                })
        case .object:
            return .filtered([try readFiltered(json, at: path)])
        default:
            return .scalar(try readScalar(json, at: path))
        }
    }

    static func readFiltered(_ json: JSONValue, at path: String) throws(AmalgamError) -> ParameterSetting.Filtered {
        for (key, _) in json.objectValue ?? [] where key != "filter" && key != "value" {
            throw AmalgamError(.usage, "unknown key '\(path).\(key)' (known: filter, value)")
        }
        guard let value = json["value"] else { throw AmalgamError(.usage, "'\(path)' needs a 'value'") }
        var filter: String? = nil
        if let given = json["filter"], given != .null {
            guard let text = given.stringValue else {
                throw AmalgamError(
                    .usage, "'\(path).filter' must be text (part of a tensor name), not \(given.typeName)")
            }
            filter = text
        }
        if value.objectValue != nil { throw AmalgamError(.usage, "'\(path).value' must be a value or a gradient list") }
        return ParameterSetting.Filtered(filter: filter, value: try readSetting(value, at: "\(path).value"))
    }

    static func readScalar(_ json: JSONValue, at path: String) throws(AmalgamError) -> ParameterScalar {
        switch json {
        case .bool(let flag): return .flag(flag)
        case .number(let text):
            guard let number = Double(text), number.isFinite else {
                throw AmalgamError(.usage, "'\(path)' must be a finite number, not \(text)")
            }
            return .number(number)
        case .string(let text):
            // mergekit validates quoted numbers ("1e-3") as numbers.
            guard let number = Double(text), number.isFinite else {
                throw AmalgamError(.usage, "'\(path)' must be a number or true/false, not '\(text)'")
            }
            return .number(number)
        default:
            throw AmalgamError(.usage, "'\(path)' must be a number or true/false, not \(json.typeName)")
        }
    }

    /// Refuses parameter names the method does not take, wherever they are given.
    static func checkParameters(_ parameters: MergeParameters, method: any MergeMethod, models: [String])
        throws(AmalgamError)
    {
        try MergeMethods.checkParameters(parameters.shared.keys.sorted(), of: method) { "parameters.\($0)" }
        let perModel = method.parameterSpecs.filter { $0.scope != .shared }.map(\.name)
        for own in [parameters.base] + parameters.sources {
            try MergeMethods.checkParameters(own.keys.sorted(), of: method) { "a model's parameter '\($0)'" }
            for name in own.keys.sorted() where !perModel.contains(name) {
                throw AmalgamError(
                    .usage,
                    "'\(name)' is a parameter of the whole \(method.name) merge: give it under the top-level 'parameters'"
                )
            }
        }
    }

    /// Every required parameter given, for every model that needs it (somewhere: a filter
    /// may still leave a tensor without one, which the merge then names).
    static func checkRequired(
        _ parameters: MergeParameters, method: any MergeMethod, sourceLabels: [String], baseLabel: String,
        where place: String
    ) throws(AmalgamError) {
        for spec in method.parameterSpecs where spec.defaultValue == nil {
            if parameters.shared[spec.name] != nil { continue }
            switch spec.scope {
            case .shared:
                throw AmalgamError(.usage, "\(method.name) needs the parameter '\(spec.name)' (\(place))")
            case .input, .nonBase:
                var owners = zip(sourceLabels, parameters.sources).map { ($0, $1) }
                if spec.scope == .input && method.baseIsInput { owners.insert((baseLabel, parameters.base), at: 0) }
                if let (model, _) = owners.first(where: { $0.1[spec.name] == nil }) {
                    throw AmalgamError(
                        .usage,
                        "\(method.name) needs the parameter '\(spec.name)' for the model \(model) (or for all, \(place))"
                    )
                }
            }
        }
    }
}
