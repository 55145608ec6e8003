import Amalgam

/// `amalgam eval`: accuracy and loss of a model on labelled data.
struct EvalCommand: Command {
    static let name = "eval"
    static let summary = "Print a classifier's accuracy and loss on labelled data."
    static let positionals = ["MODEL"]
    static let requiredSettings: [Setting] = [.data]
    static let settings: [Setting] = [.data, .evalBatch, .json, .threads] + TuneOptions.modelSettings
    static let discussion = """
        example:
          amalgam eval classifier-base.safetensors --data test.npz --json
        """

    let model: String
    let data: String
    let setup: TuningSetup
    let classes: Int?
    let batch: Int
    let json: Bool

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        model = try arguments.positionals(Self.positionals)[0]
        let values = arguments.values
        data = try values.required(.data)
        setup = try TuningSetup(values, mode: .head)
        classes = values.integer(.labels)
        batch = values.integer(.evalBatch) ?? TunableModel.evaluationBatch
        json = values.flag(.json)
    }

    func run() throws {
        let dataset = try Amalgam.dataset(data)
        let tunable = try Amalgam.tunableModel(model, setup: setup, classes: classes, data: [(dataset, data)])
        guard tunable.hasOwnHead else {
            throw AmalgamError(
                .mismatch,
                "the model has no classification head for \(tunable.classes) classes; train one first (amalgam train --train head)",
                file: model)
        }
        let result = try tunable.evaluate(on: dataset, batchSize: batch)
        let correct = Int((result.accuracy * Double(result.examples)).rounded())
        if json {
            let document = JSONValue.object([
                ("accuracy", .number("\(result.accuracy)")), ("loss", .number("\(result.loss)")),
                ("examples", .integer(result.examples)), ("correct", .integer(correct)),
                ("classes", .integer(tunable.classes)), ("architecture", .string(tunable.architecture)),
                ("model", .string(model)), ("data", .string(data)),
            ])
            Terminal.out(document.serialized())
        } else {
            Terminal.out(
                "\(model) on \(data): accuracy \(ByteSize.formatFixed(result.accuracy * 100, digits: 2))% (\(correct)/\(result.examples)), loss \(ByteSize.formatFixed(result.loss, digits: 4)) (\(tunable.architecture), \(tunable.classes) classes)"
            )
        }
    }
}
