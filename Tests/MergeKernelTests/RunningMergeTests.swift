import AmalgamCore
import Testing

@testable import MergeKernel

/// Methods that merge as the sources are read (`MergeMethod.runningMerge`) give the bytes their
/// `merge` gives from every source at once.
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
            let values = method.takesWeights ? source : zip(source, base).map { $0 - $1 }
            try running.add(values, noise: position < noises.count ? noises[position] : nil)
        }
        return (try method.merge(batch), try running.finish())
    }

    static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    @Test("task arithmetic, DARE's linear form and the average: the same bits", arguments: [[0, 1], [0, 2, 3, 4]])
    func nativeMethods(present: [Int]) throws {
        let methods: [any MergeMethod] = [
            TaskArithmeticMerge(lambda: 0.3), DAREMerge(drop: 0.5, lambda: 0.7, ties: false), AverageMerge(),
        ]
        for method in methods {
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
        let key = "entries_below_noise_floor"
        let counts = try #require(running.details.first { $0.key == key }?.value)
        let batchCounts = try #require(batch.details.first { $0.key == key }?.value)
        #expect(counts == batchCounts)
        guard case .array(let perSource) = counts, perSource.count == 3 else {
            Issue.record("entries_below_noise_floor is \(counts)")
            return
        }
        // The quantised sources lose entries to their floors; the unquantised one none.
        #expect(perSource[0] != .integer(0))
        #expect(perSource[1] == .integer(0))
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
    }

    @Test("linear's zero weight sum fails alike in both forms")
    func linearZeroSum() throws {
        let parameters = ResolvedParameters(inputs: [["weight": .number(1)], ["weight": .number(-1)]])
        var template = TensorMergeInput(
            name: "w", shape: [2], base: [1, 2], taskVectors: [], sourceIndices: [0], isMergedMatrix: false, seed: 0)
        template.parameters = parameters
        template.baseInputPosition = 0
        var running = try #require(try LinearMerge(defaultWeight: nil).runningMerge(template))
        try running.add([3, 4], noise: nil)
        #expect(throws: AmalgamError.self) { try running.finish() }
    }
}
