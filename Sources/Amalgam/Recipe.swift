public enum Recipe {
    /// A section of a recipe: the settings it takes, and the keys holding nested sections.
    struct Section {
        let settings: [Setting]
        let nested: [String]
    }

    static let top = Section(
        settings: MergeOptions.settings.filter { $0 != .force }, nested: ["options", "outputs", "tune"])
    static let options = Section(settings: MergeMethods.settings, nested: [])
    static let output = Section(settings: [.output] + ModelOutput.settings + [.ggufArchitecture], nested: [])
    static let tune = Section(
        settings: TuneOptions.trainingSettings.filter { $0 != .force && $0 != .threads }
            + [.tuneMode, .svFraction, .svCount, .svAllocation, .svInit, .subspace] + TuneOptions.modelSettings,
        nested: ["outputs"])

    /// Parses the recipe at `path` into merge (and tuning) options: Amalgam's recipe, or
    /// mergekit's configuration (it names a `merge_method`), in JSON or YAML (`.yml`,
    /// `.yaml`, or any file that does not start with `{`).
    /// - Parameters:
    ///   - path: the recipe or configuration file.
    ///   - output: where a mergekit configuration writes (mergekit-yaml's OUT).
    public static func load(_ path: String, output: String? = nil) throws -> RecipePlan {
        let file = try MappedFile(path: path)
        return try AmalgamError.withContext(file: path) {
            let json: JSONValue
            let isYAML = try file.region.withUnsafeBytes { bytes in
                path.hasSuffix(".yml") || path.hasSuffix(".yaml")
                    || bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) != UInt8(ascii: "{")
            }
            do {
                json = try file.region.withUnsafeBytes { (bytes) throws(AmalgamError) in
                    isYAML ? try YAMLParser.parse(bytes) : try JSONParser.parse(bytes)
                }
            } catch let error as AmalgamError {
                throw AmalgamError(
                    .usage, isYAML ? "not valid YAML: \(error.message)" : "not a JSON recipe: \(error.message)",
                    offset: error.context.offset)
            }
            if MergekitConfiguration.matches(json) {
                return try MergekitConfiguration.parse(json, folder: FileSystem.folder(of: path), output: output)
            }
            if output != nil {
                throw AmalgamError(.usage, "--output applies to mergekit configurations; a recipe names its 'outputs'")
            }
            return try parse(json, folder: FileSystem.folder(of: path))
        }
    }

    /// The recipe in `json`; relative paths resolved against `folder`.
    static func parse(_ json: JSONValue, folder: String) throws -> RecipePlan {
        guard json.objectValue != nil else {
            throw AmalgamError(.usage, "the recipe must be a JSON object (or a YAML mapping)")
        }
        func resolve(_ path: String) -> String { path.hasPrefix("/") || folder == "." ? path : folder + "/" + path }
        let values = try read(json, as: top, at: "")
        let optionValues = try json["options"].map { try read($0, as: options, at: "options") } ?? .recipe("options")
        let outputs = try readOutputs(json["outputs"], at: "outputs", resolve: resolve)
        var merge = try MergeOptions(values, methodOptions: optionValues, outputs: outputs)
        merge.base = resolve(merge.base)
        merge.sources = merge.sources.map(resolve)
        merge.factors = merge.factors.map(resolve)
        merge.report = merge.report.map(resolve)
        merge.reportHTML = merge.reportHTML.map(resolve)
        var plan = RecipePlan(merge: merge, tune: nil)
        if let section = json["tune"] {
            let tuneValues = try read(section, as: tune, at: "tune")
            let tuneOutputs = try readOutputs(section["outputs"], at: "tune.outputs", resolve: resolve)
            var options = try TuneOptions(
                tuneValues, model: merge.outputs[0].path, mode: .tuneMode, outputs: tuneOutputs,
                readsStageTwoInputs: false)
            options.data = resolve(options.data)
            options.eval = options.eval.map(resolve)
            options.log = options.log.map(resolve)
            options.reportHTML = options.reportHTML.map(resolve)
            if options.setup.mode == .singularValues {
                guard let factors = merge.factors else {
                    throw AmalgamError(.usage, "'tune' with train sv needs the merge's 'factors'")
                }
                options.base = merge.base
                options.factors = factors
            }
            plan.tune = options
        }
        return plan
    }

    /// The settings of one section, each value checked as its setting requires. Keys of
    /// `section.nested` are left to the caller; any other unknown key is refused.
    static func read(_ json: JSONValue, as section: Section, at path: String) throws(AmalgamError) -> SettingValues {
        guard let members = json.objectValue else {
            throw AmalgamError(.usage, "'\(path)' must be an object, not \(json.typeName)")
        }
        var values = SettingValues.recipe(path)
        let byKey = Dictionary(section.settings.map { ($0.recipeKey, $0) }, uniquingKeysWith: { first, _ in first })
        for (key, value) in members {
            let label = path.isEmpty ? key : path + "." + key
            if section.nested.contains(key) { continue }
            guard let setting = byKey[key] else {
                let known = byKey.keys.sorted() + section.nested
                throw AmalgamError(
                    .usage,
                    "unknown key '\(label)'\(Suggestion.hint(for: key, among: known)) (known: \(known.sorted().joined(separator: ", ")))"
                )
            }
            if setting.repeatable {
                guard let items = value.arrayValue else {
                    throw AmalgamError(.usage, "'\(label)' must be an array, not \(value.typeName)")
                }
                for (index, item) in items.enumerated() {
                    try values.add(try setting.decode(item, label: "\(label)[\(index)]"), for: setting, label: label)
                }
            } else {
                try values.add(try setting.decode(value, label: label), for: setting, label: label)
            }
        }
        return values
    }

    /// An `outputs` array: each an object with a `path` and output settings.
    static func readOutputs(_ json: JSONValue?, at path: String, resolve: (String) -> String) throws -> [ModelOutput] {
        guard let items = json?.arrayValue, !items.isEmpty else {
            throw AmalgamError(.usage, "'\(path)' must be a non-empty array of outputs")
        }
        return try items.enumerated().map { index, item in
            let values = try read(item, as: output, at: "\(path)[\(index)]")
            var settings = ModelOutput.settings(from: values)
            settings.template = settings.template.map(resolve)
            return ModelOutput(path: resolve(try values.required(.output)), settings: settings)
        }
    }

    /// The recipe schema, for `amalgam run --help`: every key, what it takes and its help.
    public static var schemaDescription: String {
        func lines(_ section: Section, indent: String) -> [String] {
            section.settings.map { setting in
                let kind = setting.repeatable ? "array of \(setting.requirement)" : setting.requirement
                return "\(indent)\(setting.recipeKey): \(kind). \(setting.helpText)"
            }
        }
        var text = ["recipe keys (a JSON object; relative paths are resolved against the recipe's folder):"]
        text += lines(top, indent: "  ")
        text.append("  options: an object of the method's options:")
        text += lines(options, indent: "    ")
        text.append("  outputs: a non-empty array of objects, each:")
        text += lines(output, indent: "    ")
        text.append("  tune: an object (Stage 2 on the first output, with the merge's base and factors):")
        text += lines(tune, indent: "    ")
        text.append("    outputs: as above.")
        return text.joined(separator: "\n")
    }
}
