import AmalgamCore

/// mergekit's task-arithmetic family, one definition for eight of its methods
/// (`task_arithmetic`, `ties`, `dare_linear`, `dare_ties`, `breadcrumbs`, `breadcrumbs_ties`,
/// `della`, `della_linear`), computed in f32 in mergekit's order of operations:
/// 1. per source, `D = W - W0`, sparsified at its `density` (magnitude: the top
///    `max(1, floor(density n))` by |value|; random: kept with probability `density`;
///    magnitude outliers: the `gamma n` largest and the smallest dropped; della: kept with a
///    probability `density ± epsilon` that grows with the entry's magnitude rank in its row),
///    then, with `rescale`, scaled by `sum|D| / sum|kept|`;
/// 2. `D *= weight` (the weight rounded to f32);
/// 3. with sign consensus: per entry the sign of `sum D`, kept where a source agrees,
///    `mixed = sum kept D`, `divisor = sum kept weights` (0 becomes 1); without it `mixed =
///    sum D`, `divisor = sum weights` (|divisor| < 1e-8 becomes 1);
/// 4. `mixed /= divisor` with `normalize`, `mixed *= lambda` when lambda != 1, `W0 + mixed`.
/// Random choices come from the tensor's seed, so a run is reproducible (not mergekit's
/// torch generator: random methods agree with mergekit in distribution, not bit for bit).
public struct GeneralizedTaskArithmeticMerge: MergeMethod {
    public enum Sparsification: String, Sendable {
        case magnitude, random
        case magnitudeOutliers = "magnitude_outliers"
        case dellaMagnitudePrune = "della_magprune"
    }

    public let name: String
    public let sparsification: Sparsification?
    public let signConsensus: Bool
    public let defaultNormalize: Bool
    public let defaultRescale: Bool
    /// The weight of a source that gives none (nil: required, as in mergekit).
    public let defaultWeight: Double?

    /// The method `name` as mergekit defines it (nil for other names).
    public init?(mergekitName name: String, defaultWeight: Double? = nil) {
        let table: [String: (Sparsification?, Bool, Bool, Bool)] = [
            "task_arithmetic": (nil, false, false, false),
            "ties": (.magnitude, true, true, false),
            "dare_ties": (.random, true, false, true),
            "dare_linear": (.random, false, false, true),
            "breadcrumbs": (.magnitudeOutliers, false, false, false),
            "breadcrumbs_ties": (.magnitudeOutliers, true, false, false),
            "della": (.dellaMagnitudePrune, true, true, true),
            "della_linear": (.dellaMagnitudePrune, false, false, true),
        ]
        guard let (sparsification, consensus, normalize, rescale) = table[name] else { return nil }
        self.name = name
        self.sparsification = sparsification
        signConsensus = consensus
        defaultNormalize = normalize
        defaultRescale = rescale
        self.defaultWeight = defaultWeight
    }

    public static let names = [
        "task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs", "breadcrumbs_ties", "della",
        "della_linear",
    ]

    public var settings: [(key: String, value: JSONValue)] {
        [
            ("sparsification", sparsification.map { .string($0.rawValue) } ?? .null),
            ("sign_consensus", .bool(signConsensus)),
        ]
    }

    public var parameterSpecs: [ParameterSpec] {
        var specs = [
            ParameterSpec("int8_mask", .shared, default: .flag(false)),
            ParameterSpec("normalize", .shared, default: .flag(defaultNormalize)),
            ParameterSpec("rescale", .shared, default: .flag(defaultRescale)),
            ParameterSpec("lambda", .shared, default: .number(1)),
            ParameterSpec("weight", .nonBase, default: defaultWeight.map { .number($0) }),
            ParameterSpec("density", .nonBase, default: .number(1)),
        ]
        if sparsification == .magnitudeOutliers {
            specs.append(ParameterSpec("gamma", .nonBase, default: .number(0.01)))
        }
        if sparsification == .dellaMagnitudePrune {
            specs.append(ParameterSpec("epsilon", .nonBase, default: .number(0.15)))
        }
        return specs
    }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        guard signConsensus else {
            var running = Running(method: self, input: input)
            for (position, var delta) in input.taskVectors.enumerated() {
                try running.add(&delta, noise: position < input.noise.count ? input.noise[position] : nil)
            }
            return try running.finish()
        }
        let floored = input.taskVectorsAboveEntryFloors
        var deltas: [[Float]] = []
        var weights: [Float] = []
        for (position, var delta) in floored.vectors.enumerated() {
            weights.append(try prepare(&delta, position: position, input: input))
            deltas.append(delta)
        }
        let normalize = input.parameters.flag("normalize") ?? defaultNormalize
        var mixed = [Float](repeating: 0, count: input.base.count)
        for i in mixed.indices {
            var (sum, divisor) = MergeMath.signElected(deltas, at: i, weights: weights)
            if divisor == 0 { divisor = 1 }
            mixed[i] = normalize ? sum / divisor : sum
        }
        return TensorMergeResult(
            merged: merged(input.base, mixed: &mixed, input: input),
            details: MergeMath.entriesBelowNoiseFloor(input, zeroed: floored.zeroed))
    }

    /// Prepares source `position`'s task vector (above its entry floor) in place for the
    /// combination: sparsified at its density, times its weight; returns that weight.
    private func prepare(_ delta: inout [Float], position: Int, input: TensorMergeInput) throws -> Float {
        let p = input.parameters
        if let sparsification {
            var random = SeededRandom(
                seed: input.seed ^ (UInt64(input.sourceIndices[position] + 1) &* 0x9E37_79B9_7F4A_7C15))
            delta = try Self.sparsify(
                delta, density: p.number("density", input: position) ?? 1, method: sparsification,
                rescale: p.flag("rescale") ?? defaultRescale, gamma: p.number("gamma", input: position) ?? 0.01,
                epsilon: p.number("epsilon", input: position) ?? 0.15, columns: input.columns, random: &random)
        }
        let weight = Float(p.number("weight", input: position) ?? 1)
        delta.withUnsafeMutableBufferPointer { delta in
            for i in delta.indices { delta[i] *= weight }
        }
        return weight
    }

    /// `W0 + lambda * mixed` (the scale skipped at 1), formed in `mixed`'s buffer.
    private func merged(_ base: [Float], mixed: inout [Float], input: TensorMergeInput) -> [Float] {
        let lambda = Float(input.parameters.number("lambda") ?? 1)
        if lambda != 1 { for i in mixed.indices { mixed[i] *= lambda } }
        var merged = mixed
        mixed = []
        for i in merged.indices { merged[i] = base[i] + merged[i] }
        return merged
    }

    /// The methods without sign consensus (task arithmetic, dare_linear, breadcrumbs,
    /// della_linear) sum their sources' prepared task vectors: that sum runs as they are read
    /// (`merge` feeds it every source at once).
    public func runningMerge(_ input: TensorMergeInput) throws -> (any RunningMerge)? {
        signConsensus ? nil : Running(method: self, input: input)
    }

    /// `Σ D` over the prepared task vectors, then divided by `Σ weights` with `normalize`.
    struct Running: RunningMerge {
        let method: GeneralizedTaskArithmeticMerge
        /// The tensor's input, its `noise` filled in as the sources arrive.
        var input: TensorMergeInput
        var mixed: RunningSum
        var weights: [Float] = []
        var zeroed: [Int] = []

        init(method: GeneralizedTaskArithmeticMerge, input: TensorMergeInput) {
            self.method = method
            self.input = input
            self.input.noise = []
            mixed = RunningSum(count: input.base.count)
        }

        mutating func add(_ values: inout [Float], noise: QuantizationNoise?) throws {
            let position = weights.count
            input.noise.append(noise)
            zeroed.append(input.zeroEntriesBelowFloor(&values, position: position))
            weights.append(try method.prepare(&values, position: position, input: input))
            mixed.add(values)
        }

        mutating func finish() throws -> TensorMergeResult {
            var sum = mixed.takeSum()
            if input.parameters.flag("normalize") ?? method.defaultNormalize {
                var divisor: Float = weights.reduce(0, +)
                if abs(divisor) < 1e-8 { divisor = 1 }
                for i in sum.indices { sum[i] /= divisor }
            }
            return TensorMergeResult(
                merged: method.merged(input.base, mixed: &sum, input: input),
                details: MergeMath.entriesBelowNoiseFloor(input, zeroed: zeroed))
        }
    }

    /// One task vector sparsified as mergekit's `sparsify` does (`columns`: the row length,
    /// for della's per-row ranks).
    static func sparsify(
        _ delta: [Float], density: Double, method: Sparsification, rescale: Bool, gamma: Double, epsilon: Double,
        columns: Int, random: inout SeededRandom
    ) throws -> [Float] {
        let n = delta.count
        var kept: [Float]
        switch method {
        case .magnitude:
            if density >= 1 { return delta }
            if density <= 0 || n == 0 { return [Float](repeating: 0, count: n) }
            kept = TIESMerge.keepLargest(delta, count: max(1, Int(density * Double(n))))
        case .random:
            if density >= 1 { return delta }
            kept = delta.map { value in Double(random.next() >> 11) * 0x1p-53 < density ? value : 0 }
        case .magnitudeOutliers:
            if density >= 1 { return delta }
            let target = Int(density * Double(n))
            let top = Int(gamma * Double(n))
            let bottom = max(0, n - target - top)
            // Ascending by magnitude (ties by index): keep ranks bottom ..< bottom + target.
            let order = delta.indices.sorted {
                abs(delta[$0]) < abs(delta[$1]) || (abs(delta[$0]) == abs(delta[$1]) && $0 < $1)
            }
            kept = [Float](repeating: 0, count: n)
            for rank in bottom..<min(n, bottom + target) { kept[order[rank]] = delta[order[rank]] }
        case .dellaMagnitudePrune:
            if density >= 1 { return delta }
            if density <= 0 { return [Float](repeating: 0, count: n) }
            guard density + epsilon < 1, density - epsilon > 0 else {
                throw AmalgamError(
                    .usage, "della needs density ± epsilon inside (0, 1); density \(density), epsilon \(epsilon)")
            }
            kept = [Float](repeating: 0, count: n)
            let width = max(1, min(columns, n))
            for rowStart in stride(from: 0, to: n, by: width) {
                let row = rowStart..<min(n, rowStart + width)
                let order = row.sorted {
                    abs(delta[$0]) < abs(delta[$1]) || (abs(delta[$0]) == abs(delta[$1]) && $0 < $1)
                }
                let span = Float(max(1, order.count - 1))
                for (rank, index) in order.enumerated() {
                    // Ranks 1...w normalised to [0, 1]: probability density - eps ... density + eps.
                    let fraction = order.count > 1 ? Float(rank) / span : 0
                    let probability = Float(density - epsilon) + fraction * 2 * Float(epsilon)
                    if Float(Double(random.next() >> 11) * 0x1p-53) < probability { kept[index] = delta[index] }
                }
            }
        }
        guard rescale else { return kept }
        var before = 0.0
        var after = 0.0
        for (original, survivor) in zip(delta, kept) {
            before += Double(abs(original))
            after += Double(abs(survivor))
        }
        if before < 1e-7 || after < 1e-7 { return kept }
        let scale = Float(Float(before) / Float(after))
        return kept.map { $0 * scale }
    }
}
