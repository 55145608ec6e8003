import Amalgam
import AmalgamCore
import Tuning

/// A zoo opened for the benchmark: the base's body, every source's body (memory-mapped as
/// stored, heads left out: each task has its own), and each task's target data, all
/// checked before any run so bad input fails with one line and nothing written.
final class TransferInputs: Sendable {
    let folder: String
    let manifest: ZooManifest
    let base: ModelGraph
    let sources: [String: ModelGraph]
    let train: [String: Dataset]
    let test: [String: Dataset]

    init(folder: String, trainLimit: Int) throws {
        self.folder = folder
        let manifest = try ZooManifest(folder: folder)
        self.manifest = manifest
        let registry = Amalgam.builtInFormats
        func path(_ relative: String) -> String { folder + "/" + relative }
        func body(_ relative: String) throws -> ModelGraph {
            try AmalgamError.withContext(file: path(relative)) {
                try ZooTraining.body(of: try registry.read(path(relative)).graph)
            }
        }
        base = try body(manifest.base)
        var sources: [String: ModelGraph] = [:]
        var train: [String: Dataset] = [:]
        var test: [String: Dataset] = [:]
        for task in manifest.tasks {
            sources[task.name] = try body(task.source)
            train[task.name] = try LabelledData(file: path(task.train), limit: trainLimit, classes: task.classes)
                .dataset
            test[task.name] = try LabelledData(file: path(task.test), classes: task.classes).dataset
        }
        self.sources = sources
        self.train = train
        self.test = test
        try check()
    }

    /// Every source has the base's tensors with the base's shapes (a source of another
    /// architecture fails here), and every task's data fits the base's network.
    private func check() throws {
        let registry = Amalgam.builtInFormats
        for task in manifest.tasks {
            let source = sources[task.name]!
            let label = folder + "/" + task.source
            for tensor in base.tensors {
                guard let match = source[tensor.name] else {
                    throw AmalgamError(
                        .mismatch, "has no tensor '\(tensor.name)' of the base: not a fine-tune of this zoo's base",
                        file: label)
                }
                guard match.shape == tensor.shape else {
                    throw AmalgamError(
                        .mismatch,
                        "has shape \(match.shape), the base has \(tensor.shape): not a fine-tune of this zoo's base",
                        file: label, tensor: tensor.name)
                }
            }
            var setup = TuningSetup(mode: .head)
            setup.transformer.heads = manifest.heads
            let model = try AmalgamError.withContext(file: folder + "/" + manifest.base) {
                try TunableModel(graph: base, setup: setup, classes: task.classes)
            }
            try model.check(train[task.name]!, path: folder + "/" + task.train)
            try model.check(test[task.name]!, path: folder + "/" + task.test)
        }
        _ = registry
    }

    /// The sources a run of `target` merges under `variant` (the target's own is never one).
    func sources(for target: String, variant: TransferVariant, seed: UInt64) throws -> [(String, ModelGraph)] {
        let others = manifest.tasks.map(\.name).filter { $0 != target }
        switch variant {
        case .standard:
            return others.map { ($0, sources[$0]!) }
        case .noisySource:
            let position = manifest.tasks.firstIndex { $0.name == target }!
            let replaced = manifest.tasks[(position + 1) % manifest.tasks.count].name
            return try others.map { name in
                name == replaced
                    ? ("noise in place of \(name)", try SourceVariants.noisy(sources[name]!, base: base, seed: seed))
                    : (name, sources[name]!)
            }
        case .pruned:
            return try others.map { ($0, try SourceVariants.pruned(sources[$0]!, base: base, keeping: 0.1)) }
        case .sources(let count):
            var random = SeededRandom(seed: seed, stream: "sources of " + target)
            let order = random.permutation(others.count)
            return order.prefix(count).map { (others[$0], sources[others[$0]]!) }
        }
    }
}
