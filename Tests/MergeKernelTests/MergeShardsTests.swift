import AmalgamCore
import LinearAlgebra
import Testing

@testable import MergeKernel

/// A merge split into parts: every computed tensor in exactly one part, the split balanced
/// and the same on every call, and parts assembled through a supply give the whole run's bytes.
struct MergeShardsTests {
    /// A base of matrices of several sizes, an int tensor (copied) and biases, and two sources.
    static func request(method: any MergeMethod) throws -> MergeRequest {
        var random = SeededRandom(seed: 7)
        func graph(shift: Float) throws -> ModelGraph {
            var tensors: [Tensor] = []
            for (index, (m, n)) in [(40, 30), (8, 8), (64, 16), (20, 20), (33, 7), (50, 50)].enumerated() {
                tensors.append(
                    Tensor(
                        name: "layers.\(index).weight", shape: Shape([m, n]),
                        floats: (0..<m * n).map { _ in 1 + shift * random.nextSignedUnitFloat() }))
                tensors.append(
                    Tensor(
                        name: "layers.\(index).bias", shape: Shape([m]),
                        floats: (0..<m).map { _ in shift * random.nextSignedUnitFloat() }))
            }
            let ids: [Int32] = [1, 2, 3]
            tensors.append(
                Tensor(
                    name: "position_ids", shape: [3], encoding: .plain(.i32),
                    storage: .region(ids.withUnsafeBytes { ByteRegion(copying: $0) })))
            return try ModelGraph(tensors: tensors)
        }
        let base = try graph(shift: 0)
        return MergeRequest(
            base: base, baseLabel: "base", sources: [try graph(shift: 0.1), try graph(shift: 0.2)],
            sourceLabels: ["a", "b"], method: method)
    }

    @Test(
        "each computed tensor is in one part, copies in none; the split is the same every time",
        arguments: [1, 2, 3, 5, 20])
    func partitionCoversOnce(count: Int) throws {
        let plan = try MergePlan.make(try Self.request(method: AverageMerge()))
        let shards = MergeShards(plan: plan, count: count, decomposes: true)
        #expect(shards.count == count)
        let all = shards.parts.flatMap { $0 }
        let computed = plan.entries.indices.filter { plan.entries[$0].kind != .copy }
        #expect(all.sorted() == computed)
        #expect(shards.parts.allSatisfy { $0 == $0.sorted() })
        #expect(MergeShards(plan: plan, count: count, decomposes: true).parts == shards.parts)
        // Greedy dealing, costliest first, stays within 4/3 of the best split's lower bound.
        let costs = plan.entries.map { MergeShards.cost(of: $0, decomposes: true) }
        let loads = shards.parts.map { $0.reduce(0) { $0 + costs[$1] } }
        let bound = max(computed.map { costs[$0] }.max()!, computed.reduce(0) { $0 + costs[$1] } / Double(count))
        #expect(loads.max()! <= bound * 4 / 3 + 1e-9)
    }

    @Test("an SVD merge weighs matrices by SVD flops, others by bytes")
    func costs() throws {
        let plan = try MergePlan.make(try Self.request(method: AverageMerge()))
        let matrix = plan.entries.first { $0.name == "layers.0.weight" }!
        #expect(MergeShards.cost(of: matrix, decomposes: true) == 2 * 40 * 30 * 30)
        #expect(MergeShards.cost(of: matrix, decomposes: false) == 4 * 1200 * 4)
    }

    /// The parts' f32 tensors and reports, as a supply.
    struct Parts: MergedTensorSupply {
        let tensors: [String: SuppliedTensor]
        func tensor(_ name: String) throws -> SuppliedTensor {
            guard let found = tensors[name] else { throw AmalgamError(.notFound, "missing", tensor: name) }
            return found
        }
    }

    @Test("parts computed apart and assembled give the whole run's bytes, reports and factors", arguments: [2, 3])
    func assembledEqualsWhole(count: Int) throws {
        var request = try Self.request(method: AXISMerge(fraction: 0.3))
        request.wantsFactors = true
        let plan = try MergePlan.make(request)
        let whole = MergeRun(request, plan: plan)
        whole.start()
        let expected = try whole.mergedGraph.tensors.map { try $0.loadBytes().bytes }
        let shards = MergeShards(plan: plan, count: count, decomposes: true)
        var supplied: [String: SuppliedTensor] = [:]
        for part in shards.parts {
            let run = MergeRun(request, plan: plan)
            run.writesFloat32 = true
            run.start(loadOrder: part)
            let graph = try run.mergedGraph
            for index in part {
                let name = plan.entries[index].name
                let values = try graph.tensors[index].floatValues()
                supplied[name] = SuppliedTensor(
                    merged: values, report: run.tensorReports[name]!, factors: run.factorsByName[name],
                    noiseEdge: run.noiseEdges[name])
            }
        }
        let assembly = MergeRun(request, plan: plan)
        assembly.supply = Parts(tensors: supplied)
        assembly.start()
        let assembled = try assembly.mergedGraph.tensors.map { try $0.loadBytes().bytes }
        #expect(assembled == expected)
        #expect(assembly.report["tensors"] == whole.report["tensors"])
        #expect(assembly.factorSet.matrices.map(\.factors.u) == whole.factorSet.matrices.map(\.factors.u))
    }

    @Test("a method's factors are kept only when the request wants them (or keepsFactors says so)")
    func factorsKeptOnlyWhenWanted() throws {
        var request = try Self.request(method: AXISMerge(fraction: 0.3))
        for (wanted, forced) in [(false, false), (true, false), (false, true)] {
            request.wantsFactors = wanted
            let plan = try MergePlan.make(request)
            let run = MergeRun(request, plan: plan)
            #expect(run.keepsFactors == wanted)
            if forced { run.keepsFactors = true }
            run.start()
            let merged = try run.mergedGraph
            _ = try merged.tensors.map { try $0.loadBytes() }
            let matrices = plan.entries.filter { $0.kind == .matrix }.map(\.name)
            #expect(Set(run.factorsByName.keys) == (wanted || forced ? Set(matrices) : []))
        }
    }
}
