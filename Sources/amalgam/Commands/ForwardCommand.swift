import Amalgam

/// `amalgam forward`: a model's outputs on inputs, as an npz file (for checking a model
/// against another runtime, or for using its embeddings).
struct ForwardCommand: Command {
    static let name = "forward"
    static let summary =
        "Write a model's logits (and a BERT encoder's last hidden states) for the inputs of an npz file."
    static let positionals = ["MODEL"]
    static let requiredSettings: [Setting] = [.data, .output]
    static let settings: [Setting] = [.data, .output, .threads, .force] + TuneOptions.modelSettings
    static let discussion = """
        --data takes x, or input_ids and attention_mask[, token_type_ids]; labels are not needed.
        The output gets 'logits' [n, classes] when the model has a head, and
        'last_hidden_state' [n, length, width] for BERT encoders.

        example:
          amalgam forward classifier-base.safetensors --data test.npz --output logits.npz
        """

    let model: String
    let data: String
    let output: String
    let setup: TuningSetup
    let classes: Int?
    let overwrite: Bool

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        model = try arguments.positionals(Self.positionals)[0]
        let values = arguments.values
        data = try values.required(.data)
        output = try values.required(.output)
        setup = try TuningSetup(values, mode: .head)
        classes = values.integer(.labels)
        overwrite = values.flag(.force)
    }

    func run() throws {
        let dataset = try Amalgam.dataset(data, requiringLabels: false)
        let tunable = try Amalgam.tunableModel(model, setup: setup, classes: classes, data: [(dataset, data)])
        var tensors: [Tensor] = []
        if tunable.hasOwnHead {
            tensors.append(
                Tensor(
                    name: "logits", shape: [dataset.count, tunable.classes], floats: try tunable.logits(for: dataset)))
        }
        if tunable.hasHiddenStates, case .tokens(let length) = dataset.layout {
            let hidden = try tunable.hiddenStates(for: dataset)
            tensors.append(
                Tensor(
                    name: "last_hidden_state", shape: [dataset.count, length, hidden.count / (dataset.count * length)],
                    floats: hidden))
        }
        guard !tensors.isEmpty else {
            throw AmalgamError(
                .mismatch, "the model has no head for \(tunable.classes) classes and no hidden states to write",
                file: model)
        }
        let writer = try Amalgam.builtInFormats.writer(for: output)
        let graph = try ModelGraph(tensors: tensors)
        let outputs = OutputSet(
            overwrite: overwrite, protecting: Set([model, data].compactMap(FileIdentity.of(path:))))
        let plan = try writer.plan(graph, to: output, settings: OutputSettings())
        for target in plan.targets { try outputs.reserve(target) }
        try plan.write(graph, into: outputs, progress: SilentProgress())
        try outputs.commit()
        for file in outputs.paths { Terminal.out("wrote \(file)") }
    }
}
