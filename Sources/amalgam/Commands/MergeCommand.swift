import Amalgam

/// `amalgam merge`: merge sources into a base with AXIS or a baseline.
struct MergeCommand: Command {
    static let name = "merge"
    static let summary = "Merge fine-tuned sources (any mix of formats) into a base with AXIS or a baseline."
    static let requiredSettings: [Setting] = [.base, .source]
    static let settings: [Setting] =
        [.base, .source, .output, .method] + MergeMethods.settings + ModelOutput.settings + [.ggufArchitecture]
        + MergeOptions.settings.filter { ![.base, .source, .method, .force].contains($0) } + [.dryRun, .force]
        + [.shard, .parts, .partsZstd]
    static let discussion = """
        Every file a merge writes (models, factors, report) appears together when it succeeds,
        or none does. An --output ending in '/' is a Hugging Face folder. A --source may be a
        LoRA adapter (a PEFT folder, or llama.cpp's adapter GGUF) of the base: it is the base
        plus its update, and axis and tsv take that update as its factors, never as an m x n matrix.

        examples:
          amalgam merge --base base.safetensors --source a.safetensors --source b.npz --k 2 \\
                        --output merged.safetensors --factors factors.safetensors --report report.json
          amalgam merge --base base.safetensors --source a.safetensors --source b.npz \\
                        --method ties --density 0.2 --output ties.safetensors
          amalgam merge --base base.safetensors --source a.safetensors --source b.npz --output merged-q8.gguf --quant q8_0
          amalgam merge --base base.safetensors --source a.safetensors --source b.npz --output merged/ --dry-run
          amalgam merge --base base.safetensors --source a.safetensors --source b.npz --output-lora adapter/ --lora-rank 2

        A merge splits across machines by tensors: '--shard I/N --parts DIR' computes part I of N
        (its outputs, factors and report are not written: they say what the parts must keep),
        and 'amalgam assemble DIR' writes them from all N parts, byte for byte as one machine
        would ('amalgam slurm merge' and 'amalgam k8s merge' write the jobs that do both).
        """

    let options: MergeOptions
    let dryRun: Bool
    /// The part to compute, for `--shard I/N`.
    let shard: ShardRequest?

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        _ = try arguments.positionals([])
        let values = arguments.values
        dryRun = values.flag(.dryRun)
        var options = try MergeOptions(values, methodOptions: values, outputs: [])
        if let text = values.text(.shard) {
            try values.refuse(.dryRun, because: "does not apply to --shard (run the dry run without it)")
            let (index, count) = try ShardRequest.parse(text, label: values.label(.shard))
            let written = arguments.arguments(without: [.shard, .parts, .partsZstd])
            shard = ShardRequest(
                index: index, count: count,
                folder: try values.required(.parts, why: "the folder the parts of a sharded merge go to"),
                zstdLevel: values.integer(.partsZstd), arguments: written,
                definingArguments: MergeArguments.defining(written))
        } else {
            shard = nil
            for setting in [Setting.parts, .partsZstd] { try values.refuse(setting, because: "applies to --shard") }
        }
        if let path = values.text(.output) {
            options.outputs = [ModelOutput(path: path, settings: ModelOutput.settings(from: values))]
        } else if !dryRun, options.outputLoRA == nil, shard == nil {
            _ = try values.required(.output)
        }
        options.progress = TerminalProgress()
        options.warn = { Terminal.err("amalgam merge: warning: \($0)") }
        self.options = options
    }

    func run() throws {
        if let shard {
            let start = Terminal.now()
            let manifest = try Amalgam.mergeShard(options, shard: shard)
            Terminal.out(
                "merged part \(shard.index + 1) of \(shard.count) (plan \(manifest.planHash)): \(manifest.tensors.count) tensors with \(options.method.name) in \(ByteSize.formatFixed(Terminal.now() - start, digits: 2)) s"
            )
            for file in [manifest.tensorsFile] + [manifest.factorsFile].compactMap({ $0 }) {
                Terminal.out("  wrote \(shard.folder)/\(file)")
            }
            Terminal.out("  wrote \(manifest.path)")
            return
        }
        try Self.execute(options, dryRun: dryRun)
    }

    /// Shared by `merge` and `run`.
    static func execute(_ options: MergeOptions, dryRun: Bool) throws {
        if dryRun {
            Terminal.out(describe(try Amalgam.dryRun(options), options: options))
            return
        }
        let start = Terminal.now()
        let outcome = try Amalgam.merge(options)
        Terminal.out(summary(outcome, options: options, seconds: Terminal.now() - start))
        for file in outcome.files { Terminal.out("  wrote \(file)") }
    }

    /// `merged 3 sources (base b.safetensors) with axis: ...`.
    static func summary(_ outcome: MergeOutcome, options: MergeOptions, seconds: Double) -> String {
        let kinds = Dictionary(grouping: outcome.plan.entries, by: \.kind).mapValues(\.count)
        let count = options.sources.count
        return
            "merged \(count) source\(count == 1 ? "" : "s") onto the base \(options.base) with \(options.method.name): \(kinds[.matrix] ?? 0) matrices, \(kinds[.vector] ?? 0) other tensors, \(kinds[.copy] ?? 0) copied, in \(ByteSize.formatFixed(seconds, digits: 2)) s"
    }

    static func describe(_ dry: MergeDryRun, options: MergeOptions) -> String {
        let (request, plan) = (dry.request, dry.plan)
        var lines = ["merge plan (dry run: nothing computed or written)"]
        lines.append(
            "  base:    \(request.baseLabel) (\(request.base.sourceFormat ?? "?"), \(request.base.tensors.count) tensors)"
        )
        for (label, graph) in zip(request.sourceLabels, request.sources) {
            lines.append("  source:  \(label) (\(graph.sourceFormat ?? "?"), \(graph.tensors.count) tensors)")
        }
        let settings = options.method.settings.map { "\($0.key)=\($0.value.serialized())" }.joined(separator: " ")
        lines.append("  method:  \(options.method.name)" + (settings.isEmpty ? "" : " (\(settings))"))
        let kinds = Dictionary(grouping: plan.entries, by: \.kind).mapValues(\.count)
        lines.append(
            "  tensors: \(plan.entries.count): \(kinds[.matrix] ?? 0) matrices, \(kinds[.vector] ?? 0) other (mean or elementwise), \(kinds[.copy] ?? 0) copied"
        )
        let threads = options.parallelism.threads
        lines.append(
            "  memory:  about \(ByteSize.format(plan.memoryEstimate(threads: threads, method: options.method))) working memory with \(threads) thread\(threads == 1 ? "" : "s") (inputs are memory-mapped)"
        )
        for noise in dry.noise {
            lines.append(
                "  noise:   \(noise.source) is quantised (\(noise.encodings.joined(separator: ", ")) in \(noise.matrices) matrices): rounding noise |E| about \(DiffCommand.scientific(noise.frobenius)) in all, largest noise edge \(DiffCommand.scientific(noise.largestEdge.value)) ('\(noise.largestEdge.tensor)'); --noise-floor \(options.noiseFloor) \(options.noiseFloor == .off ? "keeps components below the edge" : "leaves components below the edge out")"
            )
        }
        for file in dry.files { lines.append("  writes:  \(file)") }
        for note in plan.notes + dry.warnings { lines.append("  note:    \(note)") }
        let rows =
            [["name", "shape", "kind", "sources"]]
            + plan.entries.map { entry in
                [
                    entry.name, entry.shape.description, entry.kind.rawValue,
                    "\(entry.sources.compactMap { $0 }.count)/\(entry.sources.count)",
                ]
            }
        let widths = (0..<4).map { column in rows.map { $0[column].count }.max()! }
        for row in rows {
            lines.append(
                "    "
                    + row.enumerated().map { $0 == 3 ? $1 : $1 + String(repeating: " ", count: widths[$0] - $1.count) }
                    .joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}
