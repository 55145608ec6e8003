import Amalgam
import Dispatch
import Zoo

/// `amalgam demo`: multi-source transfer with AXIS on real data, end to end.
struct DemoCommand: Command {
    static let name = "demo"
    static let summary =
        "Merge seven fine-tunes (four formats) into a model for a held-out task with AXIS, tune it, compare, export."
    static let settings: [Setting] = [.demoFolder, .demoZoo, .transferSteps, .threads]
    static let discussion = """
        Builds (or reuses) the MLP zoo of Fashion-MNIST and digits tasks at demo size in .build/zoo, holds out
        the Fashion-MNIST task, merges the other seven fine-tunes with AXIS, runs Stage 2 on 2,000 target examples,
        runs Average + Stage 2, Base + Stage 2, a linear probe and full fine-tuning with the same data and steps,
        and exports the tuned model to GGUF Q8_0 and to ONNX (the graph of an ONNX fine-tune in the zoo with the
        target's label count, with the new weights).
        """

    let folder: String
    let zoo: String?
    var settings = TransferProtocol()

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        _ = try arguments.positionals([])
        folder = arguments.values.text(.demoFolder) ?? ".build/demo"
        zoo = arguments.values.text(.demoZoo)
        if let steps = arguments.values.integer(.transferSteps) { settings.steps = steps }
    }

    func run() throws {
        let zoo = self.zoo ?? Zoo.cacheFolder(family: .mlp, size: .demo, seed: 0)
        Terminal.out(
            "Amalgam demo: knowledge from seven fine-tuned models transferred to a task none of them learned\n")
        let start = DispatchTime.now().uptimeNanoseconds
        if self.zoo != nil || FileSystem.exists(zoo + "/" + ZooManifest.fileName) {
            Terminal.out("1. the model zoo \(zoo) (built earlier; 'amalgam zoo build' makes it)")
        } else {
            Terminal.out("1. amalgam zoo build \(zoo) --family mlp --size demo")
            var options = ZooOptions(folder: zoo)
            options.progress = TerminalProgress()
            options.info = { Terminal.out("   " + $0) }
            _ = try Zoo.build(options)
        }
        try FileSystem.createFolder(folder)
        let outcome = try TransferDemo.run(
            zoo: zoo, output: folder, settings: settings, progress: TerminalProgress())
        let manifest = outcome.manifest
        Terminal.out("   base: an MLP 784-256-256-256 pre-trained by \(manifest.pretraining)")
        Terminal.out("   fine-tunes, each with its own head (accuracy on its own test set):")
        let width = manifest.tasks.map(\.name.count).max() ?? 0
        for task in manifest.tasks {
            let held = task.name == outcome.target.name ? "   <- the target: held out, not merged" : ""
            Terminal.out(
                "     \(task.name.padding(width))  \(task.storage.padding(11))  \(Self.percent(task.sourceAccuracy))  \(task.summary)\(held)"
            )
        }
        let formats = Set(outcome.sources.map { $0.storage.split(separator: " ")[0] }).count
        Terminal.out(
            "\n2. target: \(outcome.target.name) (\(outcome.target.summary)), \(outcome.trainExamples) training and \(outcome.testExamples) test examples"
        )
        Terminal.out(
            "3. amalgam merge --method axis: the \(outcome.sources.count) other fine-tunes (\(formats) formats, one Q8_0-quantised) into one model"
        )
        for note in outcome.notes { Terminal.out("   note: \(note)") }
        Terminal.out(
            "4. amalgam tune: Stage 2 trains only the top 10% singular values of each merged matrix and a new head")
        Terminal.out("5. the baselines with the same data and steps:\n")
        let methodWidth = outcome.rows.map(\.method.count).max() ?? 0
        Terminal.out("   \("method".padding(methodWidth))  trainable parameters  accuracy  time")
        for row in outcome.rows {
            Terminal.out(
                "   \(row.method.padding(methodWidth))  \(InspectionReport.grouped(row.trainable).padding(20, left: true))  \(Self.percent(row.accuracy).padding(8, left: true))  \(ByteSize.formatFixed(row.seconds, digits: 1)) s"
            )
        }
        Terminal.out(
            "\n6. exports of the AXIS model (the ONNX one in the graph of \(FileSystem.baseName(of: outcome.template))), read back and evaluated:"
        )
        for (path, accuracy) in outcome.exports {
            Terminal.out("   \(path): \(Self.percent(accuracy))")
        }
        let summary = JSONValue.object([
            ("target", .string(outcome.target.name)), ("test", .string(zoo + "/" + outcome.target.test)),
            (
                "exports",
                .array(
                    outcome.exports.map {
                        .object([("path", .string($0.path)), ("accuracy", .number("\($0.accuracy)"))])
                    })
            ),
            (
                "rows",
                .array(
                    outcome.rows.map {
                        .object([
                            ("method", .string($0.method)), ("trainable_parameters", .integer($0.trainable)),
                            ("accuracy", .number("\($0.accuracy)")), ("seconds", .number("\($0.seconds)")),
                        ])
                    })
            ),
        ])
        let summaryPath = folder + "/demo.json"
        let outputs = OutputSet(overwrite: true)
        try outputs.reserve(summaryPath)
        try outputs.create(summaryPath).write(summary.serialized(pretty: true) + "\n")
        try outputs.commit()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        Terminal.out(
            "\nwrote \(outcome.files.count + 1) files in \(folder) (\(outcome.files.filter { !$0.hasSuffix(".log.json") }.map(FileSystem.baseName(of:)).joined(separator: ", ")), demo.json) in \(ByteSize.formatFixed(seconds, digits: 0)) s"
        )
    }

    static func percent(_ fraction: Double) -> String { ByteSize.formatFixed(fraction * 100, digits: 2) + "%" }
}

extension String {
    /// Padded with spaces to `width` (on the left for numbers).
    func padding(_ width: Int, left: Bool = false) -> String {
        let pad = String(repeating: " ", count: max(0, width - count))
        return left ? pad + self : self + pad
    }
}
