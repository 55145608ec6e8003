import Amalgam

/// `amalgam assemble PARTS...`: the outputs of a sharded merge, from its parts.
struct AssembleCommand: Command {
    static let name = "assemble"
    static let summary =
        "Write the outputs of a merge split with --shard from its parts (byte-identical to one machine)."
    static let positionals = ["PARTS..."]
    static let settings: [Setting] = MergeArguments.outputSettings.filter { $0 != .dryRun }
    static let discussion = """
        PARTS are folders of parts (every part-*-of-*.json in them is read) or manifest files.
        The parts must be of one plan (same inputs, unchanged, same options, same N) and hold
        every merged tensor once; a missing part is named with its tensors. The merge's options
        come from the manifests; output options given here (--output, --quant, --report...)
        replace the merge's own. Inputs are read again for the copied tensors and the checks.

        examples:
          amalgam merge --base base.safetensors --source a.safetensors --source b.npz --shard 0/2 --parts parts/
          amalgam merge --base base.safetensors --source a.safetensors --source b.npz --shard 1/2 --parts parts/
          amalgam assemble parts/ --output merged.gguf --quant q8_0
        """

    let options: MergeOptions
    let parts: [ShardManifest]

    init(_ arguments: ParsedArguments) throws {
        parts = try Amalgam.shardManifests(arguments.positionals)
        // The merge's own options, with its outputs replaced by those given here.
        let replacing = arguments.written.contains { ![.threads, .force].contains($0.setting) }
        let merge = replacing ? MergeArguments.defining(parts[0].arguments) : parts[0].arguments
        let combined = try ParsedArguments(
            merge + arguments.written.flatMap(\.tokens), settings: MergeCommand.settings, command: "merge")
        var options = try MergeCommand(combined).options
        options.warn = { Terminal.err("amalgam assemble: warning: \($0)") }
        guard !options.outputs.isEmpty || options.outputLoRA != nil else {
            throw AmalgamError(.usage, "missing --output OUT (the merge named none)")
        }
        self.options = options
    }

    func run() throws {
        let start = Terminal.now()
        let outcome = try Amalgam.assemble(options, parts: parts)
        Terminal.out(
            "assembled \(parts.count) part\(parts.count == 1 ? "" : "s") of plan \(parts[0].planHash): "
                + MergeCommand.summary(outcome, options: options, seconds: Terminal.now() - start))
        for file in outcome.files { Terminal.out("  wrote \(file)") }
    }
}
