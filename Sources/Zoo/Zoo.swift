import Amalgam
import AmalgamCore
import Dispatch
import ONNXFormat
import Synchronization
import Tuning

/// The model zoo: a pre-trained base and one fine-tune per task, trained by Amalgam's own
/// engine, the sources stored in mixed formats, with every task's data as npz files.
public enum Zoo {
    /// Where `make demo` and `amalgam bench transfer` keep zoos between runs.
    public static func cacheFolder(family: ZooFamily, size: ZooSize, seed: UInt64) -> String {
        ".build/zoo/\(family.rawValue)-\(size.rawValue)-seed\(seed)"
    }

    /// Builds the zoo into `options.folder`: every file appears together at the end, or
    /// none. Deterministic: the same options give the same bytes.
    public static func build(_ options: ZooOptions) throws -> ZooManifest {
        let folder = options.folder.hasSuffix("/") ? String(options.folder.dropLast()) : options.folder
        let budget = options.size.budget(options.family)
        let outputs = OutputSet(overwrite: options.overwrite, warn: options.warn)
        // One thread per training job: multi-threaded BLAS sums in another order, and a zoo
        // must have the same bytes on every machine. Machines with more cores train more
        // sources at once instead.
        let policy = Parallelism.current
        Parallelism.current = Parallelism(threads: 1)
        defer { Parallelism.current = policy }
        for file in [ZooManifest.fileName, "base.safetensors"] { try outputs.checkTarget(folder + "/" + file) }
        let zoo =
            options.family.isVision
            ? try VisionZoo.prepare(options, budget: budget) : try TextZoo.prepare(options, budget: budget)
        for input in zoo.inputs { outputs.protect(input) }
        let registry = Amalgam.builtInFormats

        func write(_ graph: ModelGraph, _ name: String, settings: OutputSettings = OutputSettings()) throws {
            let path = folder + "/" + name
            let writer = try registry.writer(for: path)
            let plan: any WritePlan
            if writer is ONNXPlugin {
                plan = try ONNXPlugin().plan(graph, to: path, options: zoo.onnx(graph))
            } else {
                plan = try writer.plan(graph, to: path, settings: settings)
            }
            for target in plan.targets { try outputs.reserve(target) }
            try plan.write(graph, into: outputs, progress: SilentProgress())
        }

        try write(zoo.base, "base.safetensors")
        let trained = try fineTune(zoo, budget: budget, workers: policy.workers(for: zoo.tasks.count), options: options)
        var tasks: [ZooManifest.Task] = []
        for (index, task) in zoo.tasks.enumerated() {
            try write(task.train.graph, "data/\(task.name)-train.npz")
            try write(task.test.graph, "data/\(task.name)-test.npz")
            let storage = SourceStorage.forTask(index)
            var settings = storage.settings
            if storage.fileExtension == "gguf" { settings.architecture = zoo.ggufArchitecture }
            let name = "sources/\(task.name).\(storage.fileExtension)"
            try write(trained[index].graph, name, settings: settings)
            tasks.append(
                ZooManifest.Task(
                    name: task.name, summary: task.summary, classes: task.classes,
                    train: "data/\(task.name)-train.npz", test: "data/\(task.name)-test.npz", source: name,
                    storage: storage.rawValue, sourceAccuracy: trained[index].accuracy))
        }
        let manifest = ZooManifest(
            family: options.family, size: options.size, seed: options.seed, base: "base.safetensors",
            pretraining: zoo.pretraining, tasks: tasks, heads: zoo.heads)
        let path = folder + "/" + ZooManifest.fileName
        try outputs.reserve(path)
        try outputs.create(path).write(manifest.json.serialized(pretty: true) + "\n")
        try outputs.commit()
        return manifest
    }

    /// Fine-tunes one source per task from the base's body, as many at once as the machine
    /// has threads (each on one thread, so the bytes do not depend on how many run at once).
    static func fineTune(_ zoo: PreparedZoo, budget: ZooBudget, workers: Int, options: ZooOptions) throws
        -> [(graph: ModelGraph, accuracy: Double)]
    {
        let body = try ZooTraining.body(of: zoo.base)
        let tasks = zoo.tasks
        let setups = tasks.enumerated().map { index, task in
            var setup = zoo.fineTune
            setup.training.seed = options.seed &+ UInt64(index) &+ 1
            setup.transformer.heads = zoo.heads
            setup.training.epochs = budget.epochs(examples: task.train.count, batch: setup.training.batchSize)
            return setup
        }
        options.info("fine-tuning \(tasks.count) sources, \(workers) at a time")
        let state = Mutex<(results: [Int: (ModelGraph, Double)], failure: (any Error)?)>(([:], nil))
        let next = Atomic<Int>(0)
        options.progress.begin(label: "fine-tuning sources", total: Int64(tasks.count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while state.withLock({ $0.failure == nil }) {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < tasks.count else { return }
                let task = tasks[index]
                do {
                    let (graph, accuracy) = try ZooTraining.train(
                        body, setup: setups[index], classes: task.classes, train: task.train.dataset,
                        test: task.test.dataset, progress: SilentProgress())
                    state.withLock { $0.results[index] = (graph, accuracy) }
                    options.progress.advance(by: 1)
                    options.info(
                        "  \(task.name): \(percent(accuracy)) on its test set (\(task.classes) classes, \(task.train.count) training examples, \(setups[index].training.epochs) epochs)"
                    )
                } catch {
                    state.withLock { if $0.failure == nil { $0.failure = error } }
                }
            }
        }
        options.progress.finish()
        let (results, failure) = state.withLock { ($0.results, $0.failure) }
        if let failure { throw failure }
        return (0..<tasks.count).map { (results[$0]!.0, results[$0]!.1) }
    }
}
