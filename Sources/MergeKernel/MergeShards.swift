import AmalgamCore

/// A merge split by tensors into parts for several machines (`merge --shard I/N`): the
/// plan's computed tensors (not the copied ones, which assembling takes from the base)
/// dealt into `count` parts of about equal estimated cost. The split depends only on the
/// plan (names, shapes, kinds, sources present) and `count`, so every node computes the
/// same one from the inputs' headers.
public struct MergeShards: Sendable {
    /// Entry indices of each part, ascending.
    public let parts: [[Int]]

    public var count: Int { parts.count }

    /// Deals the tensors, costliest first, each to the part with the least cost so far (the
    /// lowest-numbered among equals): within 4/3 of the best split (Graham's bound).
    /// - Parameter decomposes: the method takes an SVD of every merged matrix (AXIS, TSV-M).
    public init(plan: MergePlan, count: Int, decomposes: Bool) {
        precondition(count >= 1, "a merge splits into at least one part")
        let indices = plan.entries.indices.filter { plan.entries[$0].kind != .copy }
        let costs = plan.entries.map { Self.cost(of: $0, decomposes: decomposes) }
        let order = indices.sorted { costs[$0] != costs[$1] ? costs[$0] > costs[$1] : $0 < $1 }
        var loads = [Double](repeating: 0, count: count)
        var parts = [[Int]](repeating: [], count: count)
        for index in order {
            var lightest = 0
            for part in 1..<count where loads[part] < loads[lightest] { lightest = part }
            loads[lightest] += costs[index]
            parts[lightest].append(index)
        }
        self.parts = parts.map { $0.sorted() }
    }

    /// The estimated work of one tensor: for a decomposed matrix the flops of one SVD per
    /// present source (m·n·min(m, n)), otherwise the bytes read and written (4 per element per
    /// input, plus the output).
    public static func cost(of entry: MergePlan.Entry, decomposes: Bool) -> Double {
        let inputs = Double(entry.sources.compactMap { $0 }.count)
        let elements = Double(entry.shape.elementCount)
        if decomposes, entry.kind == .matrix, entry.shape.rank == 2 {
            let (m, n) = (Double(entry.shape.dimensions[0]), Double(entry.shape.dimensions[1]))
            return inputs * m * n * min(m, n)
        }
        return 4 * elements * (inputs + 2)
    }
}

/// Merged tensors computed elsewhere (the parts of a sharded merge), for a run that
/// assembles them.
public protocol MergedTensorSupply: Sendable {
    /// The merged tensor `name` in f32, as the run that computed it made it, with its report
    /// entry, its factors (when that run kept them) and its update's noise edge.
    func tensor(_ name: String) throws -> SuppliedTensor
}

/// One tensor of a `MergedTensorSupply`.
public struct SuppliedTensor: Sendable {
    public var merged: [Float]
    public var report: JSONValue
    public var factors: LowRankFactors?
    /// The quantisation noise edge of the update (factors computed later drop values below it).
    public var noiseEdge: Float?

    public init(merged: [Float], report: JSONValue, factors: LowRankFactors?, noiseEdge: Float?) {
        self.merged = merged
        self.report = report
        self.factors = factors
        self.noiseEdge = noiseEdge
    }
}
