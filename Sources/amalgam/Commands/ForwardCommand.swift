import Amalgam

/// `amalgam forward`: a model's outputs on inputs, as an npz file (for checking a model
/// against another runtime, or for using its embeddings).
struct ForwardCommand: Command {
    static let name = "forward"
    static let summary =
        "Write a model's logits (and a BERT encoder's last hidden states) for the inputs of an npz file."
    static let synopsis =
        "amalgam forward MODEL --data INPUTS.npz --output OUT.npz [--arch ARCH] [--activation NAME] [--heads N] [--pooling KIND] [--labels N] [--force]"
    static let options: [OptionSpec] =
        [
            .option(
                "data", "INPUTS.npz",
                "Inputs: x, or input_ids and attention_mask[, token_type_ids]; labels are not needed."),
            .option(
                "output", "OUT.npz",
                "Gets 'logits' [n, classes] when the model has a head, and 'last_hidden_state' [n, length, width] for BERT."
            ),
            .flag("force", "Overwrite an existing output."),
        ] + ModelArguments.options

    let model: String, data: String, output: String
    let arguments: ModelArguments
    let overwrite: Bool

    init(_ arguments: ParsedArguments) throws(UsageError) {
        model = try arguments.positionals("MODEL")[0]
        guard let data = try arguments.value("data") else { throw UsageError("missing --data INPUTS.npz") }
        guard let output = try arguments.value("output") else { throw UsageError("missing --output OUT.npz") }
        self.data = data
        self.output = output
        self.arguments = try ModelArguments(arguments, mode: .head)
        overwrite = arguments.flag("force")
    }

    func run() throws {
        let dataset = try Amalgam.dataset(data, requiringLabels: false)
        let tunable = try Amalgam.tunableModel(
            model, setup: arguments.setup, classes: arguments.classes, data: [(dataset, data)])
        var tensors: [Tensor] = []
        if tunable.hasOwnHead {
            tensors.append(
                Tensor(
                    name: "logits", shape: [dataset.count, tunable.classes], floats: try tunable.logits(for: dataset)))
        }
        if tunable.architecture == .bert, case .tokens(let length) = dataset.layout {
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
        let protected = Set([model, data].compactMap(FileIdentity.of(path:)))
        let files = try Amalgam.builtInFormats.writerPlugin(for: output, explicit: nil).write(
            try ModelGraph(tensors: tensors), to: output,
            options: WriteOptions(overwrite: overwrite, protectedInputs: protected))
        for file in files { Terminal.out("wrote \(file)") }
    }
}
