import Amalgam
import AmalgamCore
import Dispatch
import LinearAlgebra
import MergeKernel
import Reports
import Synchronization
import Tuning

/// The multi-source transfer benchmark: every task of a zoo held out in turn as the target,
/// the other tasks' sources merged and adapted to it (see `TransferMethod`), against the
/// base's own directions, random ones, a linear probe and full fine-tuning.
public enum TransferBenchmark {
    /// Every run the options ask for, in order.
    public static func runs(_ options: TransferOptions, manifest: ZooManifest) throws -> [TransferRun] {
        let names = manifest.tasks.map(\.name)
        let targets = options.targets ?? names
        for target in targets where !names.contains(target) {
            throw AmalgamError(
                .usage, "the zoo has no task '\(target)' (it has \(names.joined(separator: ", ")))", file: options.zoo)
        }
        let settings = options.settings
        var runs: [TransferRun] = []
        for target in targets {
            for seed in settings.seeds {
                for method in options.methods {
                    for fraction in method.usesFraction ? settings.fractions.map({ Optional($0) }) : [nil] {
                        runs.append(
                            TransferRun(
                                target: target, method: method, fraction: fraction, seed: seed, variant: .standard))
                    }
                }
            }
        }
        let first = settings.fractions.first ?? 0.1
        var variants: [TransferVariant] = []
        if options.robustness { variants += [.noisySource, .pruned] }
        let counts = sweepCounts(sources: names.count - 1)
        for variant in variants {
            for target in targets {
                for seed in settings.seeds {
                    for method in TransferOptions.robustnessMethods where options.methods.contains(method) {
                        runs.append(
                            TransferRun(target: target, method: method, fraction: first, seed: seed, variant: variant))
                    }
                }
            }
        }
        if options.sweep {
            for count in counts {
                for target in targets {
                    for seed in settings.seeds {
                        for method in TransferOptions.sweepMethods where options.methods.contains(method) {
                            runs.append(
                                TransferRun(
                                    target: target, method: method, fraction: first, seed: seed,
                                    variant: .sources(count)))
                        }
                    }
                }
            }
        }
        return runs
    }

    /// Source counts of the sweep below all of them (1, 2, 4, ...); all is the standard run.
    static func sweepCounts(sources: Int) -> [Int] {
        var counts: [Int] = []
        var count = 1
        while count < sources {
            counts.append(count)
            count *= 2
        }
        return counts
    }

    /// Runs what the cache does not hold yet (each result cached as it finishes, so an
    /// interrupted benchmark resumes), then writes the Markdown and JSON reports together.
    public static func run(_ options: TransferOptions) throws -> TransferReport {
        let outputs = OutputSet(overwrite: options.overwrite)
        try outputs.reserve(options.report)
        try outputs.reserve(options.jsonReport)
        if let page = options.reportHTML { try outputs.reserve(page) }
        let inputs = try TransferInputs(folder: options.zoo, trainLimit: options.settings.trainLimit)
        let runs = try runs(options, manifest: inputs.manifest)
        let cache = (options.cache ?? options.zoo + "/transfer-cache") + "/" + options.settings.fingerprint
        var results: [TransferRun: TransferResult] = [:]
        for run in runs {
            if let cached = try? cachedResult(run, cache: cache) { results[run] = cached }
        }
        let pending = runs.filter { results[$0] == nil }
        options.info(
            "\(runs.count) runs: \(runs.count - pending.count) in the cache (\(cache)), \(pending.count) to train")
        let finished = try execute(pending, inputs: inputs, settings: options.settings, cache: cache, options: options)
        for result in finished { results[result.run] = result }
        let report = TransferReport(
            manifest: inputs.manifest, settings: options.settings, results: runs.map { results[$0]! },
            zoo: options.zoo)
        try outputs.create(options.report).write(report.markdown)
        let json = report.json  // built once for the file and the page
        try outputs.create(options.jsonReport).write(json.serialized(pretty: true) + "\n")
        if let page = options.reportHTML {
            try outputs.create(page).write(try ReportPage.html([(label: options.jsonReport, json: json)]))
        }
        try outputs.commit()
        return report
    }

    static func cachedResult(_ run: TransferRun, cache: String) throws -> TransferResult? {
        let path = cache + "/" + run.key + ".json"
        guard FileSystem.exists(path) else { return nil }
        let file = try MappedFile(path: path)
        let json = try file.region.withUnsafeBytes { try JSONParser.parse($0) }
        return TransferResult(json: json, run: run)
    }

    /// Runs `pending` on as many workers as the machine has threads (each training on one
    /// thread: the runs are small, and results do not depend on the count).
    static func execute(
        _ pending: [TransferRun], inputs: TransferInputs, settings: TransferProtocol, cache: String,
        options: TransferOptions
    ) throws -> [TransferResult] {
        guard !pending.isEmpty else { return [] }
        let policy = Parallelism.current
        let workers = policy.workers(for: pending.count)
        let state = Mutex<(results: [TransferResult], failure: (any Error)?)>(([], nil))
        let next = Atomic<Int>(0)
        options.progress.begin(label: "transfer runs", total: Int64(pending.count))
        Parallelism.current = Parallelism(threads: workers > 1 ? 1 : policy.threads)
        defer { Parallelism.current = policy }
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while state.withLock({ $0.failure == nil }) {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < pending.count else { return }
                do {
                    let result = try execute(pending[index], inputs: inputs, settings: settings)
                    try store(result, cache: cache)
                    state.withLock { $0.results.append(result) }
                    options.progress.advance(by: 1)
                } catch {
                    state.withLock { if $0.failure == nil { $0.failure = error } }
                }
            }
        }
        options.progress.finish()
        let (results, failure) = state.withLock { ($0.results, $0.failure) }
        if let failure { throw failure }
        return results
    }

    /// Writes one result into the cache (atomically: a run interrupted mid-write is redone).
    static func store(_ result: TransferResult, cache: String) throws {
        let outputs = OutputSet(overwrite: true)
        let path = cache + "/" + result.run.key + ".json"
        try outputs.reserve(path)
        try outputs.create(path).write(result.json.serialized(pretty: true) + "\n")
        try outputs.commit()
    }

    /// Trains one run and measures it.
    static func execute(_ run: TransferRun, inputs: TransferInputs, settings: TransferProtocol) throws -> TransferResult
    {
        let start = DispatchTime.now().uptimeNanoseconds
        let train = inputs.train[run.target]!
        let test = inputs.test[run.target]!
        let classes = inputs.manifest.task(named: run.target)!.classes
        let fraction = run.fraction ?? settings.fractions.first ?? 0.1
        let setup = settings.setup(
            run.method, fraction: fraction, seed: run.seed, examples: train.count, heads: inputs.manifest.heads)
        let model: TunableModel
        var diagnostics: SubspaceDiagnostics?
        func diagnose(_ factors: FactorSet) throws {
            // Only the standard runs: the variants of the sources are not what the target's
            // own fine-tune is compared with.
            guard run.variant == .standard else { return }
            let sources = try inputs.sources(for: run.target, variant: run.variant, seed: run.seed).map(\.1)
            diagnostics = try SubspaceDiagnostics(
                factors: factors,
                counts: setup.singularValueAllocation.counts(factors, count: setup.singularValueCount),
                base: inputs.base, sources: sources, target: inputs.sources[run.target]!)
        }
        switch run.method {
        case .linearProbe, .fullFineTune:
            model = try TunableModel(graph: inputs.base, setup: setup, classes: classes)
        case .baseS2, .randomS2:
            let factors = try run.method.subspace.factors(
                for: inputs.base, count: .fraction(fraction), seed: run.seed)
            try diagnose(factors)
            model = try TunableModel(
                graph: inputs.base, base: inputs.base, factors: factors, setup: setup, classes: classes)
        default:
            let (merged, factors) = try merge(run, inputs: inputs, settings: settings, fraction: fraction)
            try diagnose(factors)
            model = try TunableModel(graph: merged, base: inputs.base, factors: factors, setup: setup, classes: classes)
        }
        _ = try model.train(on: train, eval: nil)
        let accuracy = try model.evaluate(on: test).accuracy
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return TransferResult(
            run: run, accuracy: accuracy, trainable: model.trainableCounts.total, seconds: seconds,
            diagnostics: diagnostics)
    }

    /// The run's merge of the other tasks' sources (in memory, f32) and its factors.
    static func merge(_ run: TransferRun, inputs: TransferInputs, settings: TransferProtocol, fraction: Double) throws
        -> (ModelGraph, FactorSet)
    {
        let sources = try inputs.sources(for: run.target, variant: run.variant, seed: run.seed)
        guard
            let method = run.method.mergeMethod(
                kFraction: max(settings.kFraction, fraction), sourceCount: sources.count)
        else { throw AmalgamError(.internal, "\(run.method.label) does not merge") }
        var request = MergeRequest(
            base: inputs.base, baseLabel: inputs.folder + "/" + inputs.manifest.base, sources: sources.map(\.1),
            sourceLabels: sources.map(\.0), method: method, seed: run.seed, parallelism: Parallelism(threads: 1))
        request.wantsFactors = true
        request.noiseFloor = settings.noiseFloor
        let mergeRun = MergeRun(request, plan: try MergePlan.make(request))
        defer { mergeRun.cancel() }
        mergeRun.start()
        let merged = try mergeRun.mergedGraph.mapTensors { tensor in
            Tensor(name: tensor.name, shape: tensor.shape, floats: try tensor.floatValues())
        }
        return (merged, mergeRun.factorSet)
    }
}
