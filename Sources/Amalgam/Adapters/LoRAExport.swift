import GGUFFormat
import LinearAlgebra
import SafetensorsFormat

/// Where and how a merge writes its update as a LoRA adapter (`--output-lora`).
public struct LoRAOutput: Sendable {
    /// A folder (PEFT: `adapter_config.json` + `adapter_model.safetensors`), or a file ending
    /// in `.gguf` (llama.cpp's adapter GGUF).
    public var path: String
    /// Truncate each update at this rank; nil keeps each update's whole rank.
    public var rank: Int?
    /// GGUF: `general.architecture` when the base does not say.
    public var architecture: String?

    public init(path: String, rank: Int? = nil, architecture: String? = nil) {
        self.path = path
        self.rank = rank
        self.architecture = architecture
    }

    public var isGGUF: Bool { path.lowercased().hasSuffix(".gguf") }

    /// The files it will write.
    var files: [String] {
        isGGUF
            ? [path]
            : [FileSystem.join(path, PEFTAdapter.configName), FileSystem.join(path, PEFTAdapter.weightNames[0])]
    }
}

/// A merged update as LoRA pairs: per merged matrix `lora_B = U sqrt(S)`, `lora_A = sqrt(S) Vᵀ`
/// from the factors of `merged - base` (truncated at the rank asked, the energy kept recorded),
/// and the other tensors the merge changed as whole modules (`modules_to_save`).
struct LoRAExport {
    struct Pair {
        var target: String
        var rank: Int
        /// m x r and r x n, row-major, in the target's orientation.
        var b: [Float]
        var a: [Float]
        var keptEnergy: Double
    }

    var pairs: [Pair] = []
    /// Modules (tensor names without `.weight` / `.bias`) whose tensors the merge changed
    /// otherwise, and their merged tensors.
    var modules: [String] = []
    var saved: [Tensor] = []

    /// - Parameters:
    ///   - factors: the factors of every merged matrix's update (the run's `factors`).
    ///   - merged: a readable copy of the merged model (for the tensors that are not matrices).
    init(
        plan: MergePlan, factors: [(name: String, factors: LowRankFactors)], merged: ModelGraph, rank: Int?
    ) throws {
        let byName = Dictionary(factors.map { ($0.name, $0.factors) }, uniquingKeysWith: { first, _ in first })
        var changed: [String] = []
        for entry in plan.entries {
            if entry.kind == .matrix {
                guard let factor = byName[entry.name], !factor.s.isEmpty else { continue }
                pairs.append(Self.pair(entry.name, factor, rank: rank))
                continue
            }
            guard let tensor = merged[entry.name] else { continue }
            let differs = try AmalgamError.withContext(tensor: entry.name) {
                try tensor.floatValues() != entry.base.floatValues()
            }
            if differs { changed.append(entry.name) }
        }
        for name in changed {
            let module = Self.module(of: name)
            guard !modules.contains(module) else { continue }
            modules.append(module)
        }
        // A saved module takes all its tensors (PEFT replaces the whole module).
        for entry in plan.entries where modules.contains(Self.module(of: entry.name)) {
            if let tensor = merged[entry.name] { saved.append(tensor) }
        }
    }

    static func module(of name: String) -> String {
        for suffix in [".weight", ".bias"] where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
        return name
    }

    static func pair(_ name: String, _ factors: LowRankFactors, rank: Int?) -> Pair {
        let full = factors.s.count
        let r = min(rank ?? full, full)
        let (m, n) = (factors.u.rows, factors.v.rows)
        let roots = factors.s.prefix(r).map { Float(Double($0).squareRoot()) }
        var b = [Float](repeating: 0, count: m * r)
        var a = [Float](repeating: 0, count: r * n)
        for i in 0..<m {
            for j in 0..<r { b[i * r + j] = factors.u.elements[i * full + j] * roots[j] }
        }
        for j in 0..<r {
            for c in 0..<n { a[j * n + c] = roots[j] * factors.v.elements[c * full + j] }
        }
        let total = factors.s.reduce(0.0) { $0 + Double($1) * Double($1) }
        let kept = factors.s.prefix(r).reduce(0.0) { $0 + Double($1) * Double($1) }
        return Pair(target: name, rank: r, b: b, a: a, keptEnergy: total > 0 ? kept / total : 1)
    }

    /// One line for the user: pairs, ranks, the least energy kept, the modules saved whole.
    func summary(_ output: LoRAOutput) -> String {
        let ranks = pairs.map(\.rank)
        var line = "LoRA adapter \(output.path): \(pairs.count) pairs"
        if let low = ranks.min(), let high = ranks.max() {
            line += low == high ? " of rank \(low)" : " of rank \(low) to \(high)"
        }
        if let least = pairs.min(by: { $0.keptEnergy < $1.keptEnergy }) {
            line +=
                least.keptEnergy >= 1
                ? ", every update whole"
                : ", energy kept at least \(ByteSize.formatFixed(100 * least.keptEnergy, digits: 2))% ('\(least.target)')"
        }
        if !modules.isEmpty {
            line +=
                "; \(modules.count) modules saved whole (modules_to_save): \(modules.prefix(3).joined(separator: ", "))\(modules.count > 3 ? ", ..." : "")"
        }
        return line
    }

    /// The report entry: rank and energy kept per tensor, the saved modules.
    func report(_ output: LoRAOutput) -> JSONValue {
        .object([
            ("path", .string(output.path)), ("format", .string(output.isGGUF ? "gguf-lora" : "peft-lora")),
            ("rank_limit", output.rank.map { .integer($0) } ?? .null),
            (
                "tensors",
                .array(
                    pairs.map {
                        .object([
                            ("name", .string($0.target)), ("rank", .integer($0.rank)),
                            ("kept_energy_fraction", .number("\($0.keptEnergy)")),
                        ])
                    })
            ),
            ("modules_to_save", .array(modules.map { .string($0) })),
        ])
    }

    /// Writes the adapter into `outputs`. `fanInFanOut`: the base stores its linear weights
    /// `[in, out]` (GPT-2's Conv1D), so PEFT's pairs are those of the transposed update.
    func write(_ output: LoRAOutput, base: ModelGraph, baseLabel: String, into outputs: OutputSet) throws {
        if output.isGGUF {
            guard modules.isEmpty else {
                throw AmalgamError(
                    .unsupported,
                    "the merge changes \(modules.count) tensors that are not merged matrices (\(modules.prefix(3).joined(separator: ", "))\(modules.count > 3 ? ", ..." : "")); llama.cpp's adapter GGUF holds LoRA pairs only: write a PEFT folder, or leave those tensors as the base has them",
                    file: output.path)
            }
            try GGUFLoRA.write(
                pairs.map { GGUFLoRA.Pair(target: $0.target, b: $0.b, a: $0.a, rank: $0.rank) }, base: base,
                architecture: output.architecture, to: output.path, into: outputs)
            return
        }
        let fanInFanOut = base.architecture.name == "gpt2"
        var tensors: [Tensor] = []
        for pair in pairs {
            let module = Self.module(of: pair.target)
            let (m, n) = (pair.b.count / max(pair.rank, 1), pair.a.count / max(pair.rank, 1))
            var (b, a, rows, columns) = (pair.b, pair.a, m, n)
            if fanInFanOut {
                // PEFT applies (B A)ᵀ there: write the pair of the transposed update, Aᵀ Bᵀ.
                b = Matrix(rows: pair.rank, columns: n, elements: pair.a).transposed.elements
                a = Matrix(rows: m, columns: pair.rank, elements: pair.b).transposed.elements
                (rows, columns) = (n, m)
            }
            tensors.append(
                Tensor(
                    name: "\(PEFTAdapter.keyPrefix)\(module).lora_A.weight", shape: Shape([pair.rank, columns]),
                    floats: a))
            tensors.append(
                Tensor(
                    name: "\(PEFTAdapter.keyPrefix)\(module).lora_B.weight", shape: Shape([rows, pair.rank]), floats: b)
            )
        }
        for tensor in saved {
            var copy = tensor
            copy.name = PEFTAdapter.keyPrefix + tensor.name
            copy.originalName = copy.name
            tensors.append(copy)
        }
        var metadata = Metadata()
        metadata["format"] = .string("pt")
        let graph = try ModelGraph(tensors: tensors, metadata: metadata)
        let weights = FileSystem.join(output.path, PEFTAdapter.weightNames[0])
        let plan = try SafetensorsPlugin().plan(graph, to: weights, options: SafetensorsWriterOptions())
        try plan.write(graph, into: outputs, progress: SilentProgress())
        let config = try adapterConfig(base: base, baseLabel: baseLabel, fanInFanOut: fanInFanOut)
        try outputs.create(FileSystem.join(output.path, PEFTAdapter.configName)).write(
            config.serialized(pretty: true) + "\n")
    }

    /// `adapter_config.json`: scale 1 for every pair (`lora_alpha = r`, and `rank_pattern` =
    /// `alpha_pattern` for the modules of another rank), the exact module names as targets.
    func adapterConfig(base: ModelGraph, baseLabel: String, fanInFanOut: Bool) throws -> JSONValue {
        let largest = pairs.map(\.rank).max() ?? 0
        var patterns: [(key: String, value: JSONValue)] = []
        for pair in pairs where pair.rank != largest {
            let module = Self.module(of: pair.target)
            patterns.append((Self.escaped(module), .integer(pair.rank)))
        }
        let targets = pairs.map { JSONValue.string(Self.module(of: $0.target)) }
        var taskType: JSONValue = .null
        if let config = base.attachments["config.json"],
            let parsed = try? config.withUnsafeBytes({ (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }),
            let names = parsed["architectures"]?.arrayValue?.compactMap(\.stringValue)
        {
            if names.contains(where: { $0.hasSuffix("ForCausalLM") }) { taskType = .string("CAUSAL_LM") }
            if names.contains(where: { $0.hasSuffix("ForSequenceClassification") }) { taskType = .string("SEQ_CLS") }
        }
        return .object([
            ("peft_type", .string("LORA")), ("task_type", taskType),
            ("base_model_name_or_path", .string(baseLabel)), ("r", .integer(largest)),
            ("lora_alpha", .integer(largest)), ("rank_pattern", .object(patterns)),
            ("alpha_pattern", .object(patterns)),
            ("target_modules", .array(targets)),
            ("modules_to_save", modules.isEmpty ? .null : .array(modules.map { .string($0) })),
            ("lora_dropout", .number("0.0")), ("fan_in_fan_out", .bool(fanInFanOut)), ("bias", .string("none")),
            ("use_rslora", .bool(false)), ("use_dora", .bool(false)), ("init_lora_weights", .bool(true)),
            ("inference_mode", .bool(true)),
        ])
    }

    /// `text` with the characters of regular expressions escaped (PEFT's rank patterns).
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            if "\\^$.|?*+()[]{}".contains(character) { result.append("\\") }
            result.append(character)
        }
        return result
    }
}
