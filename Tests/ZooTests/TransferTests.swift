import AmalgamCore
import Foundation
import MergeKernel
import Testing

@testable import Zoo

/// The benchmark's bookkeeping: which runs, what they share, and the statistics.
struct TransferTests {
    static let manifest = ZooManifest(
        family: .mlp, size: .test, seed: 0, base: "base.safetensors", pretraining: "rotations",
        tasks: (0..<8).map { index in
            ZooManifest.Task(
                name: "task-\(index)", summary: "a task", classes: 2 + index, train: "data/t\(index)-train.npz",
                test: "data/t\(index)-test.npz", source: "sources/t\(index).safetensors", storage: "safetensors",
                sourceAccuracy: Double(50 + index) / 100)
        }, heads: nil)

    @Test("the default plan: every method × N × seed × target, robustness, the source-count sweep (960 runs)")
    func runPlan() throws {
        let runs = try TransferBenchmark.runs(TransferOptions(zoo: "zoo", report: "r.md"), manifest: Self.manifest)
        #expect(runs.count == 8 * 3 * (8 * 3 + 2) + 8 * 3 * 2 * 4 + 3 * 8 * 3 * 2)
        #expect(Set(runs.map(\.key)).count == runs.count)
        #expect(TransferBenchmark.sweepCounts(sources: 7) == [1, 2, 4])
        #expect(runs.filter { $0.method == .linearProbe }.allSatisfy { $0.fraction == nil })
        var options = TransferOptions(zoo: "zoo", report: "r.md")
        options.targets = ["task-9"]
        #expect(throws: AmalgamError.self) { try TransferBenchmark.runs(options, manifest: Self.manifest) }
    }

    @Test("AXIS's variants run only when named, with the robustness runs; each is the merge and start it names")
    func variants() throws {
        #expect(TransferMethod.standard.count == 10 && !TransferMethod.standard.contains(.axisBalancedRemainder))
        var options = TransferOptions(zoo: "zoo", report: "r.md")
        options.methods = [.axisBalancedRemainderMergedStart]
        options.sweep = false
        options.settings.fractions = [0.1]
        let runs = try TransferBenchmark.runs(options, manifest: Self.manifest)
        #expect(runs.count == 8 * 3 * 3)
        #expect(Set(runs.map(\.variant)) == [.standard, .noisySource, .pruned])
        let merge = try #require(
            TransferMethod.axisBalancedRemainderMergedStart.mergeMethod(kFraction: 0.1, sourceCount: 7) as? AXISMerge)
        #expect(merge.ranking == .normalized && merge.perSourceQuota && merge.orthogonalization == .tsv)
        #expect(merge.remainder == .tsv && merge.fraction == 0.1)
        let wide = try #require(TransferMethod.axisWideEnergy.mergeMethod(kFraction: 0.1, sourceCount: 7) as? AXISMerge)
        #expect(wide.fraction == 0.4 && wide.remainder == .none)
        #expect(TransferMethod.tsvmMergedStart.mergeMethod(kFraction: 0.1, sourceCount: 7) is TSVMerge)
        let settings = TransferProtocol()
        let start = settings.setup(.tsvmMergedStart, fraction: 0.1, seed: 0, examples: 100, heads: nil)
        #expect(start.singularValueStart == .merged && start.singularValueAllocation == .uniform)
        let energy = settings.setup(.axisWideEnergy, fraction: 0.1, seed: 0, examples: 100, heads: nil)
        #expect(energy.singularValueStart == .zero && energy.singularValueAllocation == .energy)
    }

    @Test("epochs = max(5, ceil(480 / steps per epoch)); K is at least N")
    func protocolNumbers() {
        let settings = TransferProtocol()
        #expect(settings.epochs(examples: 2000) == 15)
        #expect(settings.epochs(examples: 100) == 240)
        #expect(settings.epochs(examples: 64 * 200) == 5)
        let stage2 = settings.setup(.axis, fraction: 0.2, seed: 1, examples: 2000, heads: nil)
        #expect(stage2.singularValueCount == .fraction(0.2) && stage2.training.learningRate == 0.1)
        #expect(stage2.training.headLearningRate == 0.01 && stage2.training.batchSize == 64)
        #expect(settings.setup(.linearProbe, fraction: 0.1, seed: 1, examples: 10, heads: nil).mode == .head)
        #expect(settings.setup(.baseS2, fraction: 0.1, seed: 1, examples: 10, heads: nil).subspace == .base)
    }

    @Test("mean, sample standard deviation and paired wins")
    func statistics() {
        let summary = Summary([0.8, 0.9, 1.0])
        #expect(abs(summary.mean - 0.9) < 1e-12 && abs(summary.standardDeviation - 0.1) < 1e-12)
        let paired = PairedDifference([(0.9, 0.8), (0.7, 0.75), (0.6, 0.6)])
        #expect(paired.wins == 1 && paired.losses == 1 && paired.ties == 1)
        #expect(abs(paired.differences.mean - 0.05 / 3) < 1e-12)
        #expect(TransferReport.fixed(-0.004, digits: 2) == "0.00" && TransferReport.fixed(12.345, digits: 1) == "12.3")
    }

    @Test("a noisy source is W0 plus noise of half the task vector's norm; pruning keeps the largest 10%")
    func sourceVariants() throws {
        let base = try ModelGraph(tensors: [Tensor(name: "w", shape: [4, 5], floats: (0..<20).map { Float($0) / 10 })])
        let source = try base.mapTensors { tensor in
            Tensor(
                name: "w", shape: [4, 5], floats: try tensor.floatValues().enumerated().map { $1 + Float($0 % 7) - 3 })
        }
        let delta = zip(try source["w"]!.floatValues(), try base["w"]!.floatValues()).map { $0 - $1 }
        func norm(_ values: [Float]) -> Double { values.reduce(0) { $0 + Double($1 * $1) }.squareRoot() }
        let noisy = try SourceVariants.noisy(source, base: base, seed: 3)
        let noise = zip(try noisy["w"]!.floatValues(), try base["w"]!.floatValues()).map { $0 - $1 }
        #expect(abs(norm(noise) - 0.5 * norm(delta)) < 1e-5)
        let pruned = try SourceVariants.pruned(source, base: base, keeping: 0.1)
        let kept = zip(try pruned["w"]!.floatValues(), try base["w"]!.floatValues()).map { $0 - $1 }
        #expect(kept.filter { $0 != 0 }.count == 2)
        #expect(kept.map(abs).max() == delta.map(abs).max())
    }

    @Test("the manifest reads back what it writes; a broken one names its key")
    func manifest() throws {
        let folder = NSTemporaryDirectory() + "/amalgam-manifest-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let text = Self.manifest.json.serialized(pretty: true)
        try text.write(toFile: folder + "/manifest.json", atomically: true, encoding: .utf8)
        #expect(try ZooManifest(folder: folder) == Self.manifest)
        try text.replacingOccurrences(of: "\"classes\": 2,", with: "\"classes\": 1,").write(
            toFile: folder + "/manifest.json", atomically: true, encoding: .utf8)
        #expect {
            try ZooManifest(folder: folder)
        } throws: { error in
            (error as? AmalgamError)?.message == "'tasks[0].classes' must be an integer of at least 2"
        }
        #expect {
            try ZooManifest(folder: folder + "/nothing")
        } throws: { error in
            (error as? AmalgamError)?.message == "holds no zoo (no manifest.json); build one with 'amalgam zoo build'"
        }
    }
}
