import Amalgam

/// `amalgam merge`: merge sources into a base with AXIS or a baseline.
struct MergeCommand: Command {
    static let name = "merge"
    static let summary = "Merge fine-tuned sources (any mix of formats) into a base with AXIS or a baseline."
    static let synopsis = """
        amalgam merge --base BASE --source S1 [--source S2 ...] --output OUT [--method METHOD] [method options]
                     [--to FORMAT] [--dtype f32|f16|bf16] [--factors FILE] [--report FILE] [--seed N] [--threads N]
                     [--skip PATTERN ...] [--allow-missing] [--dry-run] [--force]
        """
    static let methodOptions: [OptionSpec] = [
        .option("k", "N", "axis: components kept per matrix."),
        .option("k-fraction", "F", "axis: K as a fraction of min(m, n), rounded half up (default 0.1)."),
        .flag("exact-svd", "axis, tsv: full SVD of every task vector instead of the randomized top-K."),
        .option(
            "lambda", "F",
            "task_arithmetic (default 1 for one source, 0.3 otherwise), ties, dare (default 1): scale of the merged update."
        ),
        .option("density", "F", "ties: fraction of each task vector kept by magnitude (default 0.2)."),
        .option("drop", "P", "dare: probability of dropping each entry (default 0.9)."),
        .flag("dare-ties", "dare: combine with TIES sign election instead of a sum."),
    ]
    static let options: [OptionSpec] =
        [
            .option("base", "BASE", "The base model the sources were fine-tuned from."),
            .option("source", "FILE", "A fine-tuned model (repeat for each source; any readable format)."),
            .option("method", "METHOD", "axis (default), average, task_arithmetic, ties, dare or tsv."),
        ] + methodOptions + [
            .option("output", "OUT", "Where to write the merged model."),
            .option("to", "FORMAT", "Output format (default: from OUT's extension)."),
            .option("dtype", "DTYPE", "Write floating-point tensors as f32, f16 or bf16 (default: the base's)."),
            .option("max-shard-size", "SIZE", "Shard a safetensors output."),
            .flag("compress", "npz output: deflate members."),
            .flag("keep-dtype", "npz output: keep bf16/float8 bits."),
            .option(
                "quant", "TYPE",
                "GGUF output: quantise 2-D weights (q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, f16, bf16, f32)."),
            .option("template", "BASE.onnx", "ONNX output: the template's graph with the merged weights."),
            .flag("external-data", "ONNX output: keep tensor data in OUT.data beside OUT."),
            .option(
                "factors", "FILE", "axis: write the factors U, S, V of every merged matrix (safetensors) for stage 2."),
            .option("report", "FILE", "Write a per-tensor JSON report."),
            .option("seed", "N", "Seed for randomized SVDs and DARE (default 0)."),
            .option("threads", "N", "Tensors merged at once (default 2; BLAS threads are divided among them)."),
            .option(
                "skip", "PATTERN",
                "Average tensors matching PATTERN (* and ?) instead of SVD-merging them; repeatable. Embeddings and vocabulary heads are always skipped."
            ),
            .flag("allow-missing", "Leave a source out of tensors it lacks instead of failing."),
            .flag(
                "dry-run",
                "Check every source against the base and print the plan and memory estimate; compute nothing."),
            .flag("force", "Overwrite existing outputs (inputs are never overwritten)."),
        ]
    static let discussion = """
        examples:
          amalgam merge --base base.safetensors --source a.safetensors --source b.npz --k 76 \\
                        --output merged.safetensors --factors factors.safetensors --report report.json
          amalgam merge --base base.safetensors --source a.safetensors --source b.safetensors \\
                        --method ties --density 0.2 --output ties.safetensors
        """

    let options: MergeOptions
    let dryRun: Bool

    init(_ arguments: ParsedArguments) throws(UsageError) {
        _ = try arguments.positionals()
        guard let base = try arguments.value("base") else { throw UsageError("missing --base BASE") }
        let sources = arguments.values["source"] ?? []
        guard !sources.isEmpty else { throw UsageError("missing --source (give one per fine-tuned model)") }
        dryRun = arguments.flag("dry-run")
        let output = try arguments.value("output")
        guard output != nil || dryRun else { throw UsageError("missing --output OUT") }
        var methodValues: [String: String] = [:]
        for spec in Self.methodOptions {
            if spec.value == nil {
                if arguments.flag(spec.name) { methodValues[spec.name] = "true" }
            } else if let value = try arguments.value(spec.name) {
                methodValues[spec.name] = value
            }
        }
        let methodName = try arguments.value("method") ?? "axis"
        let method: any MergeMethod
        do {
            method = try MergeMethods.make(methodName, options: methodValues, sourceCount: sources.count)
        } catch let error as AmalgamError {
            throw UsageError(error.message)
        } catch {
            throw UsageError("\(error)")
        }
        let parsed = try OutputArguments(arguments)
        let mergeOutput = MergeOutput(
            path: output ?? "", format: try arguments.value("to"), dtype: parsed.dtype,
            maximumShardBytes: parsed.maximumShardBytes, writerOptions: parsed.writerOptions)
        var options = MergeOptions(
            base: base, sources: sources, method: method, outputs: output == nil ? [] : [mergeOutput])
        options.factors = try arguments.value("factors")
        options.report = try arguments.value("report")
        if let text = try arguments.value("seed") {
            guard let seed = UInt64(text) else {
                throw UsageError("--seed must be a non-negative whole number, not '\(text)'")
            }
            options.seed = seed
        }
        if let text = try arguments.value("threads") {
            guard let threads = Int(text), (1...256).contains(threads) else {
                throw UsageError("--threads must be a whole number from 1 to 256, not '\(text)'")
            }
            options.threads = threads
        }
        options.skip = (arguments.values["skip"] ?? []).map(NamePattern.init)
        options.allowMissing = arguments.flag("allow-missing")
        options.overwrite = arguments.flag("force")
        options.progress = TerminalProgress()
        options.warn = { Terminal.err("amalgam merge: warning: \($0)") }
        self.options = options
    }

    func run() throws {
        try Self.execute(options, dryRun: dryRun)
    }

    /// Shared by `merge` and `run`.
    static func execute(_ options: MergeOptions, dryRun: Bool) throws {
        if dryRun {
            let (request, plan) = try Amalgam.planMerge(options)
            Terminal.out(describe(plan, request: request, options: options))
            return
        }
        let start = Terminal.now()
        let outcome = try Amalgam.merge(options)
        let kinds = Dictionary(grouping: outcome.plan.entries, by: \.kind).mapValues(\.count)
        Terminal.out(
            "merged \(options.sources.count) source\(options.sources.count == 1 ? "" : "s") into \(options.base) with \(options.method.name): \(kinds[.matrix] ?? 0) matrices, \(kinds[.vector] ?? 0) other tensors, \(kinds[.copy] ?? 0) copied, in \(ByteSize.formatFixed(Terminal.now() - start, digits: 2)) s"
        )
        for file in outcome.files { Terminal.out("  wrote \(file)") }
    }

    static func describe(_ plan: MergePlan, request: MergeRequest, options: MergeOptions) -> String {
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
        lines.append(
            "  memory:  about \(ByteSize.format(plan.memoryEstimate(threads: options.threads))) working memory with \(options.threads) thread\(options.threads == 1 ? "" : "s") (inputs are memory-mapped)"
        )
        for note in plan.notes { lines.append("  note:    \(note)") }
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
