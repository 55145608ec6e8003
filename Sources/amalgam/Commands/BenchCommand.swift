import Amalgam
import Zoo

/// `amalgam bench transfer`: the multi-source transfer benchmark on a model zoo.
struct BenchCommand: Command {
    static let name = "bench"
    static let summary =
        "Run the multi-source transfer benchmark: every zoo task held out in turn, AXIS against the baselines."
    static let positionals = ["transfer"]
    static let settings: [Setting] = [
        .zooFolder, .zooFamily, .zooSize, .zooSeed, .transferTarget, .transferMethod, .transferFraction,
        .transferSeeds, .transferSteps, .transferTrainLimit, .headLearningRate, .skipRobustness, .skipSweep,
        .transferReport, .reportHTML,
        .transferCache, .noiseFloor, .threads, .force,
    ]
    static let discussion = """
        Runs AXIS (zero and merged start), Average, TIES, TSV-M and DARE each followed by Stage 2, Stage 2 in the
        base's own (Base+S2) and random (Random+S2) directions, a linear probe and full fine-tuning, at every N and
        seed; then AXIS and the merge baselines with one noisy source and with pruned sources, and AXIS and
        Average+S2 with fewer sources. AXIS's variants beyond the paper (axis-tsv-remainder,
        axis-balanced-remainder, ...: see --method) run only when named, with the same robustness runs, and the
        report then pairs each against TSV-M+S2 and Base+S2. Every Stage 2 run also measures what it trains in:
        the sources' and the target's own task-vector energy inside the trained subspace, its principal angles to
        the target's update, and the frozen remainder. Results are cached per run, so an interrupted benchmark
        resumes.

        example:
          amalgam bench transfer --family mlp --size test --target digits --method axis --method linear-probe \\
                                 --fraction 0.1 --seeds 1 --no-robustness --no-sweep --report .build/bench/example.md
        """

    let zoo: ZooOptions?
    let options: TransferOptions

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        let words = try arguments.positionals(Self.positionals)
        guard words[0] == "transfer" else {
            throw AmalgamError(.usage, "'\(words[0])' is not a benchmark (transfer is)")
        }
        let values = arguments.values
        let family = values.text(.zooFamily).flatMap(ZooFamily.init(rawValue:)) ?? .mlp
        let size = values.text(.zooSize).flatMap(ZooSize.init(rawValue:)) ?? .demo
        let seed = values.seed(.zooSeed) ?? 0
        let folder: String
        if let given = values.text(.zooFolder) {
            for setting in [Setting.zooFamily, .zooSize, .zooSeed] {
                try values.refuse(setting, because: "describes the zoo to build; --zoo names one already built")
            }
            folder = given
            zoo = nil
        } else {
            folder = Zoo.cacheFolder(family: family, size: size, seed: seed)
            var build = ZooOptions(folder: folder)
            build.family = family
            build.size = size
            build.seed = seed
            build.progress = TerminalProgress()
            build.info = { Terminal.out($0) }
            build.warn = { Terminal.err("amalgam bench: warning: \($0)") }
            zoo = build
        }
        var options = TransferOptions(
            zoo: folder,
            report: values.text(.transferReport) ?? ".build/bench/transfer-\(family.rawValue)-\(size.rawValue).md")
        let targets = values.texts(.transferTarget)
        options.targets = targets.isEmpty ? nil : targets
        let methods = values.texts(.transferMethod).compactMap(TransferMethod.init(rawValue:))
        if !methods.isEmpty { options.methods = methods }
        let fractions = values.all(.transferFraction).compactMap { value -> Double? in
            if case .real(let f) = value { return f }
            if case .integer(let i) = value { return Double(i) }
            return nil
        }
        if !fractions.isEmpty { options.settings.fractions = fractions }
        if let seeds = values.integer(.transferSeeds) { options.settings.seeds = (0..<UInt64(seeds)).map { $0 } }
        if let steps = values.integer(.transferSteps) { options.settings.steps = steps }
        if let limit = values.integer(.transferTrainLimit) { options.settings.trainLimit = limit }
        if let rate = values.real(.headLearningRate) { options.settings.headLearningRate = rate }
        if let text = values.text(.noiseFloor) {
            options.settings.noiseFloor = try NoiseFloor(parsing: text, label: values.label(.noiseFloor))
        }
        options.robustness = !values.flag(.skipRobustness)
        options.sweep = !values.flag(.skipSweep)
        options.cache = values.text(.transferCache)
        options.reportHTML = values.text(.reportHTML)
        options.overwrite = values.flag(.force)
        options.progress = TerminalProgress()
        options.info = { Terminal.out($0) }
        self.options = options
    }

    func run() throws {
        if let zoo, !FileSystem.exists(zoo.folder + "/" + ZooManifest.fileName) {
            Terminal.out("building the zoo \(zoo.folder) (cached for later runs)")
            _ = try Zoo.build(zoo)
        }
        let report = try TransferBenchmark.run(options)
        Terminal.out(report.markdown)
        Terminal.out(
            "wrote \(options.report) and \(options.jsonReport)" + (options.reportHTML.map { " and \($0)" } ?? ""))
    }
}
