import Amalgam

/// `amalgam demo`: the end-to-end job on an embedded default model.
struct DemoCommand: Command {
    static let name = "demo"
    static let summary =
        "Build a small model in memory; write, inspect and convert it; merge three fine-tunes of it with AXIS; train, merge and tune a classifier."
    static let settings: [Setting] = [.demoFolder]

    let folder: String

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        _ = try arguments.positionals([])
        folder = arguments.values.text(.demoFolder) ?? ".build/demo"
    }

    func run() throws {
        try FileSystem.createFolder(folder)
        let graph = try DemoModel.make()
        let original = folder + "/model.safetensors"
        Terminal.out(
            "1. built a llama-shaped model in memory: \(graph.tensors.count) tensors, \(InspectionReport.grouped(graph.parameterCount)) parameters"
        )
        try Amalgam.builtInFormats.writer(for: original).write(
            graph, to: original, settings: OutputSettings(), overwrite: true)
        Terminal.out("2. wrote \(original)\n")

        Terminal.out("3. amalgam inspect \(original)")
        let report = try InspectionReport(path: original)
        Terminal.out(report.text.split(separator: "\n").prefix(12).joined(separator: "\n") + "\n    ...\n")

        let bf16 = folder + "/model-bf16.safetensors"
        let converted = try Amalgam.convert(
            original, to: bf16, dtype: .bf16, options: ConversionOptions(overwrite: true))
        Terminal.out("4. amalgam convert \(original) \(bf16) --dtype bf16")
        Terminal.out(
            "   wrote \(converted.files.joined(separator: ", ")): \(ByteSize.format(try sizes(converted.files))) instead of \(ByteSize.format(try sizes([original])))"
        )

        let shardFolder = folder + "/sharded/"
        try FileSystem.createFolder(shardFolder)
        let sharded = try Amalgam.convert(
            original,
            to: ModelOutput(path: shardFolder, settings: OutputSettings(dtype: .f16, maximumShardBytes: 64_000)),
            options: ConversionOptions(overwrite: true))
        Terminal.out("5. amalgam convert \(original) \(shardFolder) --dtype f16 --max-shard-size 64kB")
        let shardCount = sharded.files.filter { $0.hasSuffix(".safetensors") }.count
        Terminal.out(
            "   wrote \(shardCount) shards, an index and the config: \(sharded.files.map(FileSystem.baseName(of:)).joined(separator: ", "))"
        )

        Terminal.out("6. read both back and compared with the original:")
        let reference = try InspectionReport(path: original).graph
        // Round to nearest even bounds the relative error by half an ulp (the unit roundoff)
        // for values in the target's normal range.
        let checks: [(label: String, path: String, smallestNormal: Float, unitRoundoff: Double, bound: String)] = [
            ("bf16", bf16, Float.leastNormalMagnitude, 0x1p-8, "2^-8"),
            ("f16 sharded", shardFolder, 0x1p-14, 0x1p-11, "2^-11"),
        ]
        for check in checks {
            let copy = try InspectionReport(path: check.path).graph
            var worst = 0.0
            for tensor in reference.tensors {
                guard let other = copy[tensor.name] else {
                    throw AmalgamError(.mismatch, "lost in conversion", tensor: tensor.name)
                }
                let (a, b) = (try tensor.floatValues(), try other.floatValues())
                for (x, y) in zip(a, b) where abs(x) >= check.smallestNormal {
                    worst = max(worst, Double(abs(x - y)) / Double(abs(x)))
                }
            }
            guard worst <= check.unitRoundoff else {
                throw AmalgamError(
                    .internal, "\(check.label): relative error \(worst) exceeds the unit roundoff \(check.bound)")
            }
            Terminal.out(
                "   \(check.label): all \(copy.tensors.count) tensors present; largest relative error \(ByteSize.formatFixed(worst * 1e4, digits: 2))e-4, within the unit roundoff \(check.bound) = \(ByteSize.formatFixed(check.unitRoundoff * 1e4, digits: 2))e-4"
            )
        }
        try mergeStep(base: graph, original: original)
        try transferStep()
        Terminal.out("done: the files are in \(folder)")
    }

    /// The total size of the files at `paths`.
    private func sizes(_ paths: [String]) throws -> Int {
        try paths.reduce(0) { $0 + (try FileSystem.size(of: $1)) }
    }

    /// Three fine-tunes (rank-2 updates of different strengths, one pure noise), saved in
    /// mixed formats and merged with AXIS.
    private func mergeStep(base: ModelGraph, original: String) throws {
        var random = SeededRandom(seed: 7)
        func fineTune(strength: Float, rank: Int) throws -> ModelGraph {
            try base.mapTensors { tensor in
                guard tensor.encoding == .plain(.f32), tensor.shape.rank == 2 else { return tensor }
                let (m, n) = (tensor.shape.dimensions[0], tensor.shape.dimensions[1])
                var values = try tensor.floatValues()
                for _ in 0..<rank {
                    let u = (0..<m).map { _ in random.nextSignedUnitFloat() }
                    let v = (0..<n).map { _ in random.nextSignedUnitFloat() }
                    for i in 0..<m { for j in 0..<n { values[i * n + j] += strength * u[i] * v[j] } }
                }
                for i in values.indices { values[i] += 0.001 * random.nextSignedUnitFloat() }
                return Tensor(name: tensor.name, shape: tensor.shape, floats: values)
            }
        }
        let sources = [
            ("task-a.safetensors", try fineTune(strength: 0.05, rank: 2)),
            ("task-b.npz", try fineTune(strength: 0.03, rank: 2)),
            ("task-c.gguf", try fineTune(strength: 0.02, rank: 2)),
        ]
        var paths: [String] = []
        for (name, graph) in sources {
            let path = folder + "/" + name
            try Amalgam.builtInFormats.writer(for: path).write(
                graph, to: path, settings: OutputSettings(quant: name.hasSuffix(".gguf") ? "q8_0" : nil),
                overwrite: true)
            paths.append(path)
        }
        Terminal.out(
            "7. made three fine-tunes (rank-2 updates of strength 0.05, 0.03, 0.02): \(paths.map(FileSystem.baseName(of:)).joined(separator: ", ")) (the GGUF one in Q8_0, llama names, rotary-permuted Q/K)"
        )
        let outputs = [
            ModelOutput(path: folder + "/merged.safetensors"),
            ModelOutput(path: folder + "/merged-q8_0.gguf", settings: OutputSettings(quant: "q8_0")),
        ]
        var options = MergeOptions(base: original, sources: paths, method: AXISMerge(count: 4), outputs: outputs)
        options.factors = folder + "/factors.safetensors"
        options.report = folder + "/merge-report.json"
        options.overwrite = true
        let outcome = try Amalgam.merge(options)
        Terminal.out(
            "8. amalgam merge --base model.safetensors --source task-a.safetensors --source task-b.npz --source task-c.gguf --k 4 --factors ... --report ..., and the result again as merged-q8_0.gguf"
        )
        guard case .array(let tensors)? = outcome.report["tensors"],
            let q = tensors.first(where: { $0["name"]?.stringValue == "model.layers.0.self_attn.q_proj.weight" })
        else { return }
        let counts = q["components_per_source"]?.arrayValue?.map { $0.serialized() }.joined(separator: ", ") ?? "?"
        let energy = q["kept_energy_fraction"]?.doubleValue.map { ByteSize.formatFixed($0 * 100, digits: 1) } ?? "?"
        Terminal.out(
            "   q_proj: the 4 kept components came from the sources as [\(counts)]; they hold \(energy)% of the task vectors' energy"
        )
        Terminal.out("   wrote \(outcome.files.map(FileSystem.baseName(of:)).joined(separator: ", "))")
    }

    /// The whole AXIS pipeline on a small classifier: two sources trained by the engine on
    /// their own tasks (saved as safetensors and ONNX), merged with AXIS, a head fitted to a
    /// third task, then Stage 2 (only singular values train), and an ONNX export.
    private func transferStep() throws {
        let folder = self.folder + "/transfer"
        try FileSystem.createFolder(folder)
        let widths = [16, 32, 4]
        var random = SeededRandom(seed: 11)
        var tensors: [Tensor] = []
        for (index, (inputs, outputs)) in zip(widths, widths.dropFirst()).enumerated() {
            let bound = 1 / Float(inputs).squareRoot()
            tensors.append(
                Tensor(
                    name: "layers.\(2 * index).weight", shape: [outputs, inputs],
                    floats: (0..<(inputs * outputs)).map { _ in bound * random.nextSignedUnitFloat() }))
            tensors.append(
                Tensor(
                    name: "layers.\(2 * index).bias", shape: [outputs],
                    floats: (0..<outputs).map { _ in bound * random.nextSignedUnitFloat() }))
        }
        var metadata = Metadata()
        metadata["amalgam.activation"] = .string("gelu")
        let base = folder + "/base.safetensors"
        try Amalgam.builtInFormats.writer(for: base).write(
            try ModelGraph(tensors: tensors, metadata: metadata), to: base, settings: OutputSettings(), overwrite: true)

        // Tasks: 4 classes from a random linear rule on 16 features; the rules share a
        // common part, so what the sources learn is worth something for the target.
        let shared = (0..<(16 * 4)).map { _ in random.nextSignedUnitFloat() }
        func task(_ name: String, rule seed: UInt64, count: Int) throws -> String {
            var own = SeededRandom(seed: seed)
            let rule = shared.map { $0 + 0.8 * own.nextSignedUnitFloat() }
            var x: [Float] = []
            var y: [Int64] = []
            for _ in 0..<count {
                let features = (0..<16).map { _ in Float(random.nextGaussian()) }
                let scores = (0..<4).map { c in (0..<16).reduce(Float(0)) { $0 + features[$1] * rule[$1 * 4 + c] } }
                x += features
                y.append(Int64(scores.indices.max { scores[$0] < scores[$1] }!))
            }
            let path = folder + "/\(name).npz"
            let graph = try ModelGraph(tensors: [
                Tensor(name: "x", shape: [count, 16], floats: x),
                Tensor(
                    name: "y", shape: [count], encoding: .plain(.i64),
                    storage: .region(y.withUnsafeBytes { ByteRegion(copying: $0) })),
            ])
            try Amalgam.builtInFormats.writer(for: path).write(
                graph, to: path, settings: OutputSettings(), overwrite: true)
            return path
        }
        func train(
            _ model: String, _ mode: TrainingMode, data: String, eval: String, output: String, epochs: Int,
            rate: Double,
            configure: (inout TuneOptions) -> Void = { _ in }
        ) throws -> TuneOutcome {
            var setup = TuningSetup(mode: mode)
            setup.training.epochs = epochs
            setup.training.learningRate = rate
            setup.training.batchSize = 64
            var options = TuneOptions(
                model: model, data: data, setup: setup, outputs: [ModelOutput(path: folder + "/" + output)])
            options.eval = eval
            options.overwrite = true
            configure(&options)
            return try Amalgam.tune(options)
        }
        func percent(_ outcome: TuneOutcome) -> String {
            ByteSize.formatFixed((outcome.records.last?.evalAccuracy ?? 0) * 100, digits: 1) + "%"
        }

        var sources: [String] = []
        var lines: [String] = []
        for (name, seed, format) in [("task-1", UInt64(21), "safetensors"), ("task-2", UInt64(22), "onnx")] {
            let outcome = try train(
                base, .full, data: try task(name, rule: seed, count: 1500),
                eval: try task(name + "-test", rule: seed, count: 500),
                output: "source-\(name).\(format)", epochs: 8, rate: 0.01)
            sources.append(folder + "/source-\(name).\(format)")
            lines.append("\(name) \(percent(outcome))")
        }
        Terminal.out(
            "9. amalgam train transfer/base.safetensors --train full: two sources on their own tasks (MLP 16-32-4, GELU, 1,500 examples each): test accuracy \(lines.joined(separator: ", ")); the second saved as ONNX"
        )

        var merge = MergeOptions(
            base: base, sources: sources, method: AXISMerge(count: 8),
            outputs: [ModelOutput(path: folder + "/merged.safetensors")])
        merge.factors = folder + "/factors.safetensors"
        merge.overwrite = true
        _ = try Amalgam.merge(merge)
        let (target, targetTest) = (
            try task("target", rule: 23, count: 1500), try task("target-test", rule: 23, count: 500)
        )
        // A head for the target task on each model (linear probes), then Stage 2 under it.
        let baseProbe = try train(
            base, .head, data: target, eval: targetTest, output: "base-probe.safetensors", epochs: 10, rate: 0.01)
        let mergeProbe = try train(
            folder + "/merged.safetensors", .head, data: target, eval: targetTest, output: "merged-probe.safetensors",
            epochs: 10, rate: 0.01)
        let tuned = try train(
            folder + "/merged-probe.safetensors", .singularValues, data: target, eval: targetTest,
            output: "tuned.safetensors", epochs: 10, rate: 0.1
        ) { options in
            options.base = base
            options.factors = folder + "/factors.safetensors"
            options.setup.singularValueCount = .count(8)
            options.outputs.append(ModelOutput(path: folder + "/tuned.onnx"))
        }
        Terminal.out(
            "10. amalgam merge --k 8 --factors, a head fitted to a third task (train --train head), then amalgam tune --sv-count 8: \(tuned.counts.singularValues) singular values trained"
        )
        Terminal.out(
            "    target test accuracy: base + head \(percent(baseProbe)), AXIS merge + head \(percent(mergeProbe)), + Stage 2 \(percent(tuned)); wrote transfer/tuned.safetensors and transfer/tuned.onnx"
        )
    }
}
