import AmalgamCore
import LinearAlgebra
import Testing

@testable import MergeKernel

/// Sources fine-tuned for different tasks: their heads are left out of the merge (with a
/// note), named tensors can be left out, and every method's merge yields factors for Stage 2.
struct HeadsAndFactorsTests {
    /// A two-layer body with a head of `classes` rows, every value offset by `shift`.
    static func model(classes: Int, shift: Float, seed: UInt64) throws -> ModelGraph {
        var random = SeededRandom(seed: seed)
        func tensor(_ name: String, _ shape: [Int]) -> Tensor {
            Tensor(
                name: name, shape: Shape(shape),
                floats: (0..<shape.reduce(1, *)).map { _ in shift * random.nextSignedUnitFloat() })
        }
        return try ModelGraph(tensors: [
            tensor("layers.0.weight", [6, 5]), tensor("layers.0.bias", [6]), tensor("layers.2.weight", [6, 6]),
            tensor("classifier.weight", [classes, 6]), tensor("classifier.bias", [classes]),
        ])
    }

    static func request(heads: [Int], method: any MergeMethod = AverageMerge()) throws -> MergeRequest {
        let base = try model(classes: 4, shift: 1, seed: 1)
        let sources = try heads.enumerated().map { index, classes in
            try base.mapTensors { tensor in
                var random = SeededRandom(seed: UInt64(index) + 10)
                let dims =
                    tensor.name.hasPrefix("classifier")
                    ? [classes] + tensor.shape.dimensions.dropFirst() : tensor.shape.dimensions
                let values = try tensor.floatValues()
                return Tensor(
                    name: tensor.name, shape: Shape(dims),
                    floats: (0..<dims.reduce(1, *)).map { i in
                        (i < values.count ? values[i] : 0) + 0.1 * random.nextSignedUnitFloat()
                    })
            }
        }
        return MergeRequest(
            base: base, baseLabel: "base", sources: sources, sourceLabels: heads.map { "source-\($0)" }, method: method)
    }

    @Test("heads of other label counts are left out with a note; what the sources share is merged")
    func differingHeadsAreLeftOut() throws {
        let plan = try MergePlan.make(try Self.request(heads: [10, 2]))
        #expect(plan.entries.map(\.name) == ["layers.0.weight", "layers.0.bias", "layers.2.weight"])
        #expect(
            plan.notes.contains(
                "classification heads of other label counts are left out of the merged model: classifier.weight, classifier.bias"
            ), "\(plan.notes)")
    }

    @Test("heads of the base's shape in every source are merged like any tensor")
    func sameHeadsAreMerged() throws {
        let plan = try MergePlan.make(try Self.request(heads: [4, 4]))
        #expect(plan.entries.count == 5 && plan.notes.isEmpty)
    }

    @Test("--leave-out removes the tensors it matches, and names a pattern that matches none")
    func leaveOut() throws {
        var request = try Self.request(heads: [4, 4])
        request.leaveOut = [NamePattern("layers.2.*"), NamePattern("nothing.*")]
        let plan = try MergePlan.make(request)
        #expect(
            plan.entries.map(\.name) == ["layers.0.weight", "layers.0.bias", "classifier.weight", "classifier.bias"])
        #expect(plan.notes.contains("left out of the merged model (--leave-out): layers.2.weight"))
        #expect(plan.notes.contains("the leave-out pattern 'nothing.*' matches no tensor of the base"))
    }

    @Test(
        "every method gives factors of its merged update: U diag(S) Vᵀ is W - W0, orthonormal U and V",
        arguments: ["average", "ties", "dare", "tsv", "task_arithmetic"])
    func factorsForEveryMethod(name: String) throws {
        let method: any MergeMethod =
            switch name {
            case "average": AverageMerge()
            case "ties": TIESMerge()
            case "dare": DAREMerge(drop: 0.5)
            case "tsv": TSVMerge(exactSVD: true)
            default: TaskArithmeticMerge(lambda: 0.3)
            }
        var request = try Self.request(heads: [4, 4, 4], method: method)
        request.wantsFactors = true
        let run = MergeRun(request, plan: try MergePlan.make(request))
        run.start()
        let merged = try run.mergedGraph
        var checked = 0
        // Merged tensors stream: each is taken once, every one of them before the factors are complete.
        var values: [String: [Float]] = [:]
        for tensor in merged.tensors { values[tensor.name] = try tensor.floatValues() }
        let factors = run.factorSet
        for name in ["layers.0.weight", "layers.2.weight"] {
            let f = try #require(factors[name])
            let (m, n, r) = (f.rows, f.columns, f.rank)
            var rebuilt = [Float](repeating: 0, count: m * n)
            for i in 0..<m {
                for j in 0..<n {
                    for k in 0..<r { rebuilt[i * n + j] += f.u[i * r + k] * f.s[k] * f.v[j * r + k] }
                }
            }
            let update = zip(values[name]!, try request.base[name]!.floatValues()).map { $0 - $1 }
            let error = zip(rebuilt, update).map { abs($0 - $1) }.max()!
            #expect(error < 1e-5, "\(name): \(error)")
            for a in 0..<r {
                for b in 0..<r {
                    let dot = (0..<m).reduce(Float(0)) { $0 + f.u[$1 * r + a] * f.u[$1 * r + b] }
                    #expect(abs(dot - (a == b ? 1 : 0)) < 1e-4)
                }
            }
            checked += 1
        }
        #expect(checked == 2)
    }

    @Test("the factors of a rank-one update have rank one (the rest of the spectrum is rounding)")
    func rankRevealing() throws {
        let base = [Float](repeating: 0.5, count: 12)
        let u: [Float] = [1, -2, 0.5, 3]
        let v: [Float] = [2, 1, -1]
        let merged = (0..<12).map { base[$0] + u[$0 / 3] * v[$0 % 3] }
        let factors = try MergeRun.factors(ofUpdate: merged, base: base, shape: [4, 3])
        #expect(factors.s.count == 1)
    }

    @Test("reports of methods without an SVD get each source's top-K spectrum and the update's")
    func spectraForEveryMethod() throws {
        let (m, n) = (30, 20)
        let base = [Float](repeating: 0, count: m * n)
        let deltas = try (0..<2).map {
            try lowRankPlusNoise(rows: m, columns: n, rank: 3, scale: 1, noise: 0, seed: UInt64($0) + 21)
        }
        let merged = zip(deltas[0], deltas[1]).map { ($0 + $1) / 2 }
        let fields = try MergeRun.spectra(
            missingFrom: [("merged_singular_values", .numbers([Float(1)]))], deltas: deltas, positions: [0, 1],
            merged: merged, base: base, shape: [m, n], seed: 3)
        #expect(fields.map(\.key) == ["source_singular_values"])  // the method's own merged values are kept
        let spectra = fields[0].value.arrayValue!.map { $0.arrayValue!.compactMap { $0.doubleValue.map(Float.init) } }
        for (spectrum, delta) in zip(spectra, deltas) {
            let exact = try SingularValueDecomposition(Matrix(rows: m, columns: n, elements: delta)).singularValues
            #expect(spectrum.count == 2)  // K = round-half-up(0.1 x 20)
            for (value, reference) in zip(spectrum, exact) { #expect(abs(value - reference) <= 1e-4 * exact[0]) }
        }
        let both = try MergeRun.spectra(
            missingFrom: [], deltas: deltas, positions: [0, 1], merged: merged, base: base, shape: [m, n], seed: 3)
        #expect(both.map(\.key) == ["source_singular_values", "merged_singular_values"])
    }
}
