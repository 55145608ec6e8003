import Amalgam
import AmalgamCore
import Dispatch
import Synchronization
import Tuning

/// `make demo`'s job, as a user would run it with the command line: seven fine-tunes of a
/// pre-trained MLP, stored in four formats, merged with AXIS into a model for a task none of
/// them was trained on; Stage 2; the same budget for the baselines; exports to GGUF Q8_0 and
/// to ONNX (the graph of the target's own fine-tune with the new weights).
public enum TransferDemo {
    /// One line of the demo's table.
    public struct Row: Sendable {
        public let method: String
        public let trainable: Int
        public let accuracy: Double
        public let seconds: Double
        /// The command line the step corresponds to.
        public let command: String
    }

    public struct Outcome: Sendable {
        public let manifest: ZooManifest
        public let target: ZooManifest.Task
        public let trainExamples: Int
        public let testExamples: Int
        public let sources: [ZooManifest.Task]
        public let rows: [Row]
        /// Accuracy of each export read back by Amalgam (path, accuracy).
        public let exports: [(path: String, accuracy: Double)]
        /// The ONNX file whose graph the ONNX export takes.
        public let template: String
        public let notes: [String]
        public let files: [String]
    }

    /// The held-out task.
    public static let defaultTarget = "fashion"

    public static func run(
        zoo folder: String, output: String, target name: String = defaultTarget,
        settings: TransferProtocol = TransferProtocol(), progress: any ProgressReporter = SilentProgress()
    ) throws -> Outcome {
        let manifest = try ZooManifest(folder: folder)
        guard let target = manifest.task(named: name) else {
            throw AmalgamError(.usage, "the zoo has no task '\(name)'", file: folder)
        }
        let sources = manifest.tasks.filter { $0.name != name }
        func zooPath(_ relative: String) -> String { folder + "/" + relative }
        func out(_ name: String) -> String { output + "/" + name }
        let base = zooPath(manifest.base)
        let test = zooPath(target.test)
        let notes = NoteList()
        var files: [String] = []

        // The protocol's target data: at most 2,000 training examples.
        let data = try LabelledData(file: zooPath(target.train), limit: settings.trainLimit, classes: target.classes)
        let train = out("target-train.npz")
        files += try Amalgam.builtInFormats.writer(for: train).write(
            data.graph, to: train, settings: OutputSettings(), overwrite: true)
        let testCount = try LabelledData(file: test, classes: target.classes).count
        let epochs = settings.epochs(examples: data.count)

        func tune(_ model: String, _ setup: TuningSetup, outputs: [ModelOutput], configure: (inout TuneOptions) -> Void)
            throws -> TuneOutcome
        {
            var options = TuneOptions(model: model, data: train, setup: setup, outputs: outputs)
            options.eval = test
            options.overwrite = true
            options.progress = progress
            options.warn = { notes.add($0) }
            configure(&options)
            let outcome = try Amalgam.tune(options)
            files += outcome.files
            return outcome
        }
        func merge(_ method: any MergeMethod, name: String) throws -> (merged: String, factors: String, seconds: Double)
        {
            let start = DispatchTime.now().uptimeNanoseconds
            var options = MergeOptions(
                base: base, sources: sources.map { zooPath($0.source) }, method: method,
                outputs: [ModelOutput(path: out("merged-\(name).safetensors"))])
            options.factors = out("factors-\(name).safetensors")
            options.reportHTML = out("merge-\(name).html")
            options.overwrite = true
            options.progress = progress
            options.warn = { notes.add($0) }
            let outcome = try Amalgam.merge(options)
            files += outcome.files
            return (out("merged-\(name).safetensors"), out("factors-\(name).safetensors"), seconds(since: start))
        }
        func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        func stageTwo(_ subspace: StageTwoSubspace = .merge) -> TuningSetup {
            var setup = settings.setup(
                .axis, fraction: settings.fractions[0], seed: 0, examples: data.count, heads: manifest.heads)
            setup.subspace = subspace
            return setup
        }
        func row(_ method: String, _ outcome: TuneOutcome, seconds: Double, command: String) -> Row {
            Row(
                method: method, trainable: outcome.counts.total, accuracy: outcome.records.last?.evalAccuracy ?? 0,
                seconds: seconds, command: command)
        }
        let sourceList = sources.map { "--source " + $0.source }.joined(separator: " ")
        let stageTwoFlags =
            "--data target-train.npz --eval \(target.test) --sv-fraction \(settings.fractions[0]) --epochs \(epochs) --batch \(settings.batch) --head-lr \(settings.headLearningRate)"

        var rows: [Row] = []
        var start = DispatchTime.now().uptimeNanoseconds
        let axis = try merge(AXISMerge(fraction: settings.kFraction), name: "axis")
        // The ONNX export reuses the graph of a fine-tune stored as ONNX with the target's label count.
        guard
            let template = manifest.tasks.first(where: { $0.storage == "onnx" && $0.classes == target.classes })
                .map({ zooPath($0.source) })
        else {
            throw AmalgamError(
                .notFound, "holds no ONNX fine-tune with \(target.classes) classes for the graph", file: folder)
        }
        let exports = [
            ModelOutput(path: out("tuned.safetensors")),
            ModelOutput(
                path: out("tuned-q8_0.gguf"),
                settings: OutputSettings(quant: "q8_0", architecture: manifest.family.rawValue)),
            ModelOutput(path: out("tuned.onnx"), settings: OutputSettings(template: template)),
        ]
        let tuned = try tune(axis.merged, stageTwo(), outputs: exports) { options in
            options.base = base
            options.factors = axis.factors
            options.reportHTML = out("tuned.html")
        }
        rows.append(
            row(
                "AXIS + Stage 2", tuned, seconds: seconds(since: start),
                command:
                    "amalgam merge --method axis --base base.safetensors \(sourceList) --factors factors.safetensors --output merged.safetensors; amalgam tune --merged merged.safetensors --base base.safetensors --factors factors.safetensors \(stageTwoFlags)"
            ))

        start = DispatchTime.now().uptimeNanoseconds
        let average = try merge(AverageMerge(), name: "average")
        let averaged = try tune(
            average.merged, stageTwo(), outputs: [ModelOutput(path: out("tuned-average.safetensors"))]
        ) {
            options in
            options.base = base
            options.factors = average.factors
        }
        rows.append(
            row(
                "Average + Stage 2", averaged, seconds: seconds(since: start),
                command: "amalgam merge --method average ... --factors ...; amalgam tune ... (as above)"))

        start = DispatchTime.now().uptimeNanoseconds
        let own = try tune(base, stageTwo(.base), outputs: [ModelOutput(path: out("tuned-base.safetensors"))]) { _ in }
        rows.append(
            row(
                "Base + Stage 2 (no sources)", own, seconds: seconds(since: start),
                command: "amalgam tune --subspace base --base base.safetensors \(stageTwoFlags)"))

        start = DispatchTime.now().uptimeNanoseconds
        let probe = try tune(
            base, settings.setup(.linearProbe, fraction: 0, seed: 0, examples: data.count, heads: manifest.heads),
            outputs: [ModelOutput(path: out("probe.safetensors"))]
        ) { _ in }
        rows.append(
            row(
                "Linear probe", probe, seconds: seconds(since: start),
                command:
                    "amalgam train base.safetensors --train head --lr \(settings.probeLearningRate) --data ... --eval ..."
            ))

        start = DispatchTime.now().uptimeNanoseconds
        let full = try tune(
            base, settings.setup(.fullFineTune, fraction: 0, seed: 0, examples: data.count, heads: manifest.heads),
            outputs: [ModelOutput(path: out("fine-tuned.safetensors"))]
        ) { _ in }
        rows.append(
            row(
                "Full fine-tune", full, seconds: seconds(since: start),
                command:
                    "amalgam train base.safetensors --train full --lr \(settings.fineTuneLearningRate) --head-lr \(settings.headLearningRate) --data ... --eval ..."
            ))

        // The exports, read back and evaluated by Amalgam (onnxruntime checks the ONNX file in `make demo`).
        var exported: [(String, Double)] = []
        let testData = try Amalgam.dataset(test)
        for export in exports.dropFirst() {
            var setup = TuningSetup(mode: .head)
            setup.transformer.heads = manifest.heads
            let model = try Amalgam.tunableModel(
                export.path, setup: setup, classes: target.classes, data: [(testData, test)])
            exported.append((export.path, try model.evaluate(on: testData).accuracy))
        }
        return Outcome(
            manifest: manifest, target: target, trainExamples: data.count, testExamples: testCount, sources: sources,
            rows: rows, exports: exported, template: template, notes: notes.lines, files: files)
    }
}

/// Distinct warning lines collected from a command's callbacks.
final class NoteList: Sendable {
    private let storage = Mutex<[String]>([])

    func add(_ line: String) { storage.withLock { if !$0.contains(line) { $0.append(line) } } }

    var lines: [String] { storage.withLock { $0 } }
}
