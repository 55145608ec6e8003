import AmalgamCore
import Testing

@testable import MergeKernel

/// Methods that merge as the sources are read (`MergeMethod.runningMerge`) give the bytes their
/// `merge` gives from every source at once, and those of a straightforward computation of the
/// method's definition written out here.
struct RunningMergeTests {
    static let (rows, columns) = (24, 16)

    /// Random values with exact zeros and negative zeros among them (their signs must survive alike).
    static func values(_ seed: UInt64, scale: Float) -> [Float] {
        var random = SeededRandom(seed: seed)
        return (0..<(rows * columns)).map { index in
            index % 17 == 0 ? 0 : index % 23 == 0 ? -0.0 : scale * random.nextSignedUnitFloat()
        }
    }

    static let base = values(1, scale: 0.5)
    static let sources = (0..<5).map { values(10 + UInt64($0), scale: 0.05 * Float($0 + 1)) }

    /// Batch and running results of `method`, sources `present` (positions among all five)
    /// read in order; `noises` per present source, `parameters` per input as the method takes them.
    static func both(
        _ method: any MergeMethod, present: [Int], parameters: ResolvedParameters = ResolvedParameters(),
        noises: [QuantizationNoise?] = [], floor: NoiseFloor = .off, basePosition: Int? = nil
    ) throws -> (batch: TensorMergeResult, running: TensorMergeResult) {
        let chosen = present.map { sources[$0] }
        var batch: TensorMergeInput
        if method.takesWeights {
            batch = TensorMergeInput(
                name: "w", shape: [rows, columns], base: base, taskVectors: [], sourceIndices: present,
                isMergedMatrix: true, seed: 99)
            var weights = chosen
            if let basePosition {
                weights.insert(base, at: basePosition)
                batch.baseInputPosition = basePosition
            }
            batch.weights = weights
        } else {
            batch = TensorMergeInput(
                name: "w", shape: [rows, columns], base: base, sources: chosen, sourceIndices: present,
                isMergedMatrix: true, seed: 99)
        }
        batch.parameters = parameters
        if noises.contains(where: { $0 != nil }) {
            batch.noise = noises
            batch.noiseFloor = floor
        }
        var template = TensorMergeInput(
            name: "w", shape: [rows, columns], base: base, taskVectors: [], sourceIndices: present,
            isMergedMatrix: true, seed: 99)
        template.parameters = parameters
        template.noiseFloor = floor
        template.baseInputPosition = basePosition
        var running = try #require(try method.runningMerge(template))
        for (position, source) in chosen.enumerated() {
            var values = method.takesWeights ? source : zip(source, base).map { $0 - $1 }
            try running.add(&values, noise: position < noises.count ? noises[position] : nil)
        }
        return (try method.merge(batch), try running.finish())
    }

    static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    /// The present sources' task vectors `Wi - W0`, in f32.
    static func taskVectors(_ present: [Int]) -> [[Float]] {
        present.map { zip(sources[$0], base).map { $0 - $1 } }
    }

    /// `W0 + lambda * Σ prepared(Di)`, summed in f32 in source order.
    static func sumReference(_ prepared: [[Float]], lambda: Float) -> [Float] {
        var sum = [Float](repeating: 0, count: base.count)
        for delta in prepared { for i in sum.indices { sum[i] += delta[i] } }
        return base.indices.map { base[$0] + lambda * sum[$0] }
    }

    /// DARE's mask drawn as ALGORITHMS.md defines it: per tensor seed and source, entry `i`
    /// dropped when the `i`th uniform draw falls below `drop`, survivors times `1 / (1 - drop)`.
    static func dareReference(_ delta: [Float], source: Int, drop: Double) -> [Float] {
        var random = SeededRandom(seed: 99 ^ (UInt64(source + 1) &* 0x9E37_79B9_7F4A_7C15))
        return delta.map { Double(random.next() >> 11) * 0x1p-53 < drop ? 0 : $0 * Float(1 / (1 - drop)) }
    }

    @Test("task arithmetic, DARE's linear form and the average: the same bits", arguments: [[0, 1], [0, 2, 3, 4]])
    func nativeMethods(present: [Int]) throws {
        let deltas = Self.taskVectors(present)
        let methods: [(any MergeMethod, [Float])] = [
            (TaskArithmeticMerge(lambda: 0.3), Self.sumReference(deltas, lambda: 0.3)),
            (
                DAREMerge(drop: 0.5, lambda: 0.7, ties: false),
                Self.sumReference(
                    zip(deltas, present).map { Self.dareReference($0, source: $1, drop: 0.5) }, lambda: 0.7)
            ),
            (
                AverageMerge(),
                Self.base.indices.map { i in
                    Float(Double(Self.base[i]) + deltas.reduce(0.0) { $0 + Double($1[i]) } / Double(deltas.count))
                }
            ),
        ]
        for (method, reference) in methods {
            guard method.name != "average" || present.count >= 4 else {
                // Below four sources the average's f64 sums would take more room than the sources.
                let template = TensorMergeInput(
                    name: "w", shape: [Self.rows, Self.columns], base: Self.base, taskVectors: [],
                    sourceIndices: present, isMergedMatrix: true, seed: 99)
                #expect(try method.runningMerge(template) == nil)
                continue
            }
            let (batch, running) = try Self.both(method, present: present)
            #expect(Self.bits(batch.merged) == Self.bits(running.merged), "\(method.name)")
            #expect(Self.bits(running.merged) == Self.bits(reference), "\(method.name)")
        }
        #expect(
            try DAREMerge(drop: 0.5, lambda: 1, ties: true).runningMerge(
                TensorMergeInput(
                    name: "w", shape: [1], base: [0], taskVectors: [], sourceIndices: [0], isMergedMatrix: false,
                    seed: 0)) == nil)
    }

    @Test(
        "mergekit's sums without sign consensus, with per-source weights and densities: the same bits",
        arguments: ["task_arithmetic", "dare_linear", "breadcrumbs", "della_linear"])
    func mergekitFamily(name: String) throws {
        let method = try #require(GeneralizedTaskArithmeticMerge(mergekitName: name, defaultWeight: nil))
        let present = [0, 1, 3]
        let parameters = ResolvedParameters(
            shared: ["lambda": .number(0.8), "normalize": .flag(true), "rescale": .flag(true)],
            inputs: present.indices.map {
                [
                    "weight": .number(0.2 + 0.3 * Double($0)), "density": .number(0.6), "gamma": .number(0.05),
                    "epsilon": .number(0.1),
                ]
            })
        let (batch, running) = try Self.both(method, present: present, parameters: parameters)
        #expect(Self.bits(batch.merged) == Self.bits(running.merged))
        // The definition: each task vector sparsified (mergekit's sparsify, checked against mergekit on its
        // own), times its f32 weight, summed in source order, over the weights' sum, times lambda, plus W0.
        var prepared: [[Float]] = []
        var weightSum: Float = 0
        for (position, delta) in Self.taskVectors(present).enumerated() {
            var random = SeededRandom(seed: 99 ^ (UInt64(present[position] + 1) &* 0x9E37_79B9_7F4A_7C15))
            let weight = Float(0.2 + 0.3 * Double(position))
            let sparse =
                try method.sparsification.map {
                    try GeneralizedTaskArithmeticMerge.sparsify(
                        delta, density: 0.6, method: $0, rescale: true, gamma: 0.05, epsilon: 0.1,
                        columns: Self.columns, random: &random)
                } ?? delta
            prepared.append(sparse.map { $0 * weight })
            weightSum += weight
        }
        var sum = [Float](repeating: 0, count: Self.base.count)
        for delta in prepared { for i in sum.indices { sum[i] += delta[i] } }
        let reference = Self.base.indices.map { Self.base[$0] + (sum[$0] / weightSum) * 0.8 }
        #expect(Self.bits(running.merged) == Self.bits(reference))
    }

    @Test("entry floors of quantised sources: the same bits and the same count of floored entries")
    func noiseFloors() throws {
        let method = try #require(GeneralizedTaskArithmeticMerge(mergekitName: "task_arithmetic", defaultWeight: 1))
        // An entry bound near the task vectors' typical size, so the floor zeroes many entries.
        let elements = Double(Self.rows * Self.columns)
        let noise = QuantizationNoise(
            encoding: "q4_0", energy: 0.0004 * elements, rows: Self.rows, columns: Self.columns)
        let present = [0, 2, 4]
        let (batch, running) = try Self.both(
            method, present: present, parameters: ResolvedParameters(inputs: present.map { _ in [:] }),
            noises: [noise, nil, noise], floor: .automatic)
        #expect(Self.bits(batch.merged) == Self.bits(running.merged))
        // The definition: entries at or below a quantised source's floor (factor x entry bound) are zero.
        let entryFloor = Float(try #require(NoiseFloor.automatic.factor) * noise.entryBound)
        let deltas = Self.taskVectors(present)
        let floored = zip(deltas, [true, false, true]).map { delta, quantised in
            quantised ? delta.map { abs($0) <= entryFloor ? 0 : $0 } : delta
        }
        #expect(Self.bits(running.merged) == Self.bits(Self.sumReference(floored, lambda: 1)))
        let key = "entries_below_noise_floor"
        let counts = try #require(running.details.first { $0.key == key }?.value)
        let batchCounts = try #require(batch.details.first { $0.key == key }?.value)
        #expect(counts == batchCounts)
        guard case .array(let perSource) = counts, perSource.count == 3 else {
            Issue.record("entries_below_noise_floor is \(counts)")
            return
        }
        // The quantised sources lose entries to their floors; the unquantised one none.
        let expected = zip(deltas, floored).map { delta, kept in zip(delta, kept).count { $0 != 0 && $1 == 0 } }
        #expect(perSource == expected.map { .integer($0) })
        #expect(expected[0] > 0 && expected[1] == 0)
    }

    @Test("linear, the base at every position among the inputs: the same bits", arguments: [0, 1, 3])
    func linear(basePosition: Int) throws {
        let present = [1, 2, 4]
        let parameters = ResolvedParameters(
            shared: ["normalize": .flag(true)],
            inputs: (0...present.count).map { ["weight": .number(0.5 + Double($0))] })
        let (batch, running) = try Self.both(
            LinearMerge(defaultWeight: nil), present: present, parameters: parameters, basePosition: basePosition)
        #expect(Self.bits(batch.merged) == Self.bits(running.merged))
        // The definition: Σ fma(Wi, wi) over the inputs in input order, the base at its position, over Σ wi.
        var inputs = present.map { Self.sources[$0] }
        inputs.insert(Self.base, at: basePosition)
        let weights = inputs.indices.map { Float(0.5 + Double($0)) }
        var sum = [Float](repeating: 0, count: Self.base.count)
        for (values, weight) in zip(inputs, weights) {
            for i in sum.indices { sum[i] = sum[i].addingProduct(values[i], weight) }
        }
        let total = weights.reduce(0, +)
        #expect(Self.bits(running.merged) == Self.bits(sum.map { $0 / total }))
    }

    @Test("linear's zero weight sum fails alike in both forms")
    func linearZeroSum() throws {
        let parameters = ResolvedParameters(inputs: [["weight": .number(1)], ["weight": .number(-1)]])
        var template = TensorMergeInput(
            name: "w", shape: [2], base: [1, 2], taskVectors: [], sourceIndices: [0], isMergedMatrix: false, seed: 0)
        template.parameters = parameters
        template.baseInputPosition = 0
        var running = try #require(try LinearMerge(defaultWeight: nil).runningMerge(template))
        var values: [Float] = [3, 4]
        try running.add(&values, noise: nil)
        #expect(throws: AmalgamError.self) { try running.finish() }
    }
}
