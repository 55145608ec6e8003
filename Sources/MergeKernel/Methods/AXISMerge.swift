import AmalgamCore
import LinearAlgebra

/// AXIS Stage 1 (arXiv 2508.19353), per merged matrix:
/// 1. each source's task vector `Di` yields its top-`K` rank-one components `(u, s, v)`
///    (a 3-pass randomized sketch, or the exact `sgesdd` with `exactSVD`): the global top `K`
///    holds at most `K` components of any one source, so this selects the same set. The
///    sketch also bounds the true singular values (`SpectrumBounds`: Ritz values from below,
///    Weyl's inequality with a probabilistic residual bound from above); where those bounds
///    leave the selection in doubt, the sources in doubt are read again and decomposed from
///    their f64 Gram matrix (values within ~10⁻¹³ σ₁² of the true squares, 2-5x cheaper than
///    `sgesdd`), and only where even those leave it open by `sgesdd`, so the selection is the
///    exact path's (with probability at least 1 − 10⁻¹⁰ per source).
///    (Growing each source in small blocks until it cannot reach the pool, judged on the
///    sketch's values alone, was tried and rejected: small sketches underestimate trailing
///    values on flat spectra and stop early; see the AXIS tests' flat-spectrum cases.)
/// 2. the components of all sources are pooled and sorted by raw singular value (stable:
///    ties go to the earlier source, then the earlier component), and the top `K` are kept;
///    a quantised source's components at or below its noise edge are left out of the pool
///    (`TensorMergeInput.singularValueFloor`);
/// 3. their sum `A B^T` (`A = [u s]`, `B = [v]`) is re-orthogonalised through two thin QRs
///    and an SVD of the small `Ra Rb^T`, never a dense SVD of the m x n sum.
/// Other tensors get the mean task vector.
///
/// Variants beyond the paper (each off by default; see the Merge models article, "AXIS variants"):
/// `ranking` pools components by their share of their own source's energy instead of raw
/// value; `perSourceQuota` gives every source `⌊K / T⌋` places before the ranking fills the
/// rest; `orthogonalization` `.tsv` replaces the kept `U` and `V` columns by their nearest
/// orthogonal matrices before the sum (as TSV-M does); `remainder` `.tsv` adds, behind the
/// K components, TSV-M's update outside their column space, which Stage 2 keeps frozen.
public struct AXISMerge: MergeMethod {
    /// `K` as a count, or as a fraction of `min(m, n)` (round half up).
    public let count: Int?
    public let fraction: Double?
    public let exactSVD: Bool
    public let ranking: Ranking
    public let perSourceQuota: Bool
    public let orthogonalization: Orthogonalization
    public let remainder: Remainder

    /// How pooled components are ordered.
    public enum Ranking: String, Sendable, CaseIterable {
        /// By singular value (the paper).
        case value
        /// By `σ / ‖Di‖_F`: each component's share of its own source's energy, so a source
        /// with a large task vector does not crowd out the others.
        case normalized
    }

    /// How the kept components become one update.
    public enum Orthogonalization: String, Sendable, CaseIterable {
        /// Their sum, re-orthogonalised exactly (the paper).
        case svd
        /// The kept `U` and `V` columns each replaced by the nearest orthogonal matrix (`P Qᵀ`),
        /// then `U⊥ diag(σ) V⊥ᵀ` (TSV-M's decorrelation, on AXIS's selection).
        case tsv
    }

    /// What the merged matrix holds beyond the K components.
    public enum Remainder: String, Sendable, CaseIterable {
        /// Nothing (the paper).
        case none
        /// TSV-M's update with its part in the K components' column space removed,
        /// `(I − U Uᵀ) ΔTSV`, as factors behind the K (Stage 2 trains the K, keeps it frozen).
        case tsv
    }

    /// K's fraction of `min(m, n)` when neither a count nor a fraction is given.
    public static let defaultFraction = 0.1

    public init(
        count: Int? = nil, fraction: Double? = nil, exactSVD: Bool = false, ranking: Ranking = .value,
        perSourceQuota: Bool = false, orthogonalization: Orthogonalization = .svd, remainder: Remainder = .none
    ) {
        self.count = count
        self.fraction = count == nil ? (fraction ?? Self.defaultFraction) : nil
        self.exactSVD = exactSVD
        self.ranking = ranking
        self.perSourceQuota = perSourceQuota
        self.orthogonalization = orthogonalization
        self.remainder = remainder
    }

    public var name: String { "axis" }
    public var takesFactoredTaskVectors: Bool { true }
    public var settings: [(key: String, value: JSONValue)] {
        var entries: [(key: String, value: JSONValue)] = []
        if let count { entries.append(("k", .integer(count))) }
        if let fraction { entries.append(("k_fraction", .number("\(fraction)"))) }
        entries.append(("exact_svd", .bool(exactSVD)))
        if ranking != .value { entries.append(("ranking", .string(ranking.rawValue))) }
        if perSourceQuota { entries.append(("per_source_quota", .bool(true))) }
        if orthogonalization != .svd { entries.append(("orthogonalize", .string(orthogonalization.rawValue))) }
        if remainder != .none { entries.append(("remainder", .string(remainder.rawValue))) }
        return entries
    }

    /// One pooled rank-one component: its singular value, and the value the pool ranks
    /// (the same, or scaled per source); `byQuota` when its source's quota kept it.
    struct Component {
        let value: Float
        let source: Int
        let index: Int
        let key: Float
        let byQuota: Bool

        init(value: Float, source: Int, index: Int, key: Float? = nil, byQuota: Bool = false) {
            self.value = value
            self.source = source
            self.index = index
            self.key = key ?? value
            self.byQuota = byQuota
        }
    }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        guard input.isMergedMatrix, input.shape.rank == 2 else {
            return TensorMergeResult(merged: MergeMath.meanTaskVector(input))
        }
        let m = input.rows
        let n = input.columns
        let k = MergeMath.rank(count: count, fraction: fraction, rows: m, columns: n)
        let deltas = input.taskVectors
        var energies: [Double] = []
        var decompositions: [SingularValueDecomposition] = []
        var bounds: [SpectrumBounds] = []
        for (position, delta) in deltas.enumerated() {
            // A LoRA source's top K comes exactly from its factors (O((m + n) r²)).
            if let factored = input.factored(position) {
                energies.append(try factored.squaredNorm)
                let svd = try factored.singularValueDecomposition(truncatedTo: k + 1)
                decompositions.append(svd.truncated(to: k))
                bounds.append(.exact(svd.singularValues))
                continue
            }
            let reduced =
                try input.reduced(position)
                ?? reduce(
                    Matrix(rows: m, columns: n, elements: delta), k: k,
                    seed: input.seed &+ UInt64(input.sourceIndices[position]))
            energies.append(reduced.squaredNorm)
            decompositions.append(reduced.decomposition)
            bounds.append(reduced.bounds ?? .exact(reduced.decomposition.singularValues))
        }
        let totalEnergy = energies.reduce(0, +)
        let floors = deltas.indices.map { input.singularValueFloor($0) }
        // The pool's key per source: 1 (raw values), or 1 / ‖Di‖_F (each source's share).
        let scales = energies.map { ranking == .normalized && $0 > 0 ? Float(1 / $0.squareRoot()) : 1 }
        let quota = perSourceQuota ? k / max(deltas.count, 1) : 0
        func select() -> (selected: [Component], belowFloor: [Int]) {
            Self.select(decompositions, k: k, floors: floors, scales: scales, quota: quota)
        }
        func uncertain(_ selected: [Component], _ bounds: [SpectrumBounds]) -> [Int] {
            Self.uncertainSources(selected, bounds: bounds, floors: floors, scales: scales)
        }
        var (selected, belowFloor) = select()
        // Sources whose bounds leave the selection open are decomposed again, one step more
        // exact each round (sketch, then the f64 Gram eigenpairs, then `sgesdd`), until the
        // selection is certain or every source in doubt is exact.
        var refined: [Int] = []
        var gramRefined: [Int] = []
        while true {
            let doubtful = uncertain(selected, bounds).filter {
                !bounds[$0].isExact
            }
            if doubtful.isEmpty { break }
            // Doubt that would stay with the sketches' values taken as exact comes from values
            // closer than the rounding margin (a noise floor at the selection's edge), which no
            // f64 Gram matrix settles: those sources go to `sgesdd` at once (one decomposition
            // instead of two; the selection is the same either way).
            let valuesAsExact = bounds.map { $0.kind == .sketch ? SpectrumBounds.gram($0.values, squaredError: 0) : $0 }
            let withinMargin = Set(uncertain(selected, valuesAsExact))
            var changed = false
            for position in doubtful {
                guard let dense = try input.denseTaskVector(position) else { continue }
                let matrix = Matrix(rows: m, columns: n, elements: dense)
                if bounds[position].kind == .sketch && !withinMargin.contains(position) {
                    let (leading, gramBounds) = try SingularValueDecomposition.leading(matrix, count: k + 1)
                    decompositions[position] = leading.truncated(to: k)
                    bounds[position] = gramBounds
                    gramRefined.append(position)
                } else {
                    let exact = try SingularValueDecomposition(matrix)
                    decompositions[position] = exact.truncated(to: k)
                    bounds[position] = .exact(Array(exact.singularValues.prefix(k + 1)))
                    gramRefined.removeAll { $0 == position }
                    refined.append(position)
                }
                changed = true
            }
            if !changed { break }
            (selected, belowFloor) = select()
        }
        let certified = uncertain(selected, bounds).isEmpty
        var factors =
            orthogonalization == .tsv
            ? try Self.orthogonalised(selected, from: decompositions, rows: m, columns: n)
            : try Self.reorthogonalise(selected, from: decompositions, rows: m, columns: n)
        let componentCount = factors.s.count
        if remainder == .tsv {
            factors = try Self.appendingTSVRemainder(to: factors, input: input)
        }
        var merged = input.base
        if !factors.s.isEmpty {
            // base + (U S) Vᵀ accumulated in place: no m x n temporary.
            var sum = Matrix(rows: m, columns: n, elements: input.base)
            try BLAS.gemm(factors.u.scalingColumns(by: factors.s), factors.v, transposeB: true, beta: 1, into: &sum)
            merged = sum.elements
        }
        var perSource = [Int](repeating: 0, count: deltas.count)
        for component in selected { perSource[component.source] += 1 }
        let keptEnergy = selected.reduce(0.0) { $0 + Double($1.value) * Double($1.value) }
        var details: [(key: String, value: JSONValue)] = [
            ("k", .integer(k)),
            ("components_per_source", .array(perSource.map { .integer($0) })),
            ("kept_energy_fraction", totalEnergy > 0 ? .number("\(keptEnergy / totalEnergy)") : .null),
            (
                "top_singular_value_per_source",
                .array(decompositions.map { .number("\($0.singularValues.first ?? 0)") })
            ),
            ("kth_singular_value_kept", .number("\(selected.last?.value ?? 0)")),
            // The spectra the selection saw (each source's top K) and the merged update's.
            ("source_singular_values", .array(decompositions.map { .numbers($0.singularValues) })),
            ("merged_singular_values", .numbers(Array(factors.s.prefix(componentCount)))),
        ]
        if remainder != .none {
            // The frozen remainder's values, behind the K components in the factors.
            details.append(("remainder_singular_values", .numbers(Array(factors.s.dropFirst(componentCount)))))
        }
        if !exactSVD {
            // Sources whose sketch could not decide the selection: settled by their f64 Gram
            // eigenpairs, or (when even those left it open) decomposed by `sgesdd`.
            details.append(("gram_svd_sources", .array(gramRefined.sorted().map { .integer(input.sourceIndices[$0]) })))
            details.append(("exact_svd_sources", .array(refined.sorted().map { .integer(input.sourceIndices[$0]) })))
            details.append(("selection_certified", .bool(certified)))
        }
        if floors.contains(where: { $0 != nil }) {
            details.append(("components_below_noise_floor", .array(belowFloor.map { .integer($0) })))
        }
        return TensorMergeResult(merged: merged, factors: factors, details: details)
    }

    /// A source's top `k` components, computed as it is read (step 1 needs no other source).
    public func reduce(_ taskVector: Matrix, context: ReductionContext) throws -> ReducedTaskVector? {
        let k = MergeMath.rank(count: count, fraction: fraction, rows: taskVector.rows, columns: taskVector.columns)
        return try reduce(
            taskVector, k: k, seed: context.seed &+ UInt64(context.sourceIndex), squaredNorm: context.squaredNorm)
    }

    func reduce(_ matrix: Matrix, k: Int, seed: UInt64, squaredNorm: Double? = nil) throws -> ReducedTaskVector {
        let squared = squaredNorm ?? SumOfSquares.of(matrix.elements)
        if exactSVD {
            let exact = try SingularValueDecomposition(matrix)
            return ReducedTaskVector(
                decomposition: exact.truncated(to: k), squaredNorm: squared,
                bounds: .exact(Array(exact.singularValues.prefix(k + 1))))
        }
        let (decomposition, bounds) = try RandomizedSVD.certified(
            matrix, rank: k, powerIterations: Self.sketchPowerIterations, seed: seed)
        return ReducedTaskVector(decomposition: decomposition, squaredNorm: squared, bounds: bounds)
    }

    /// Power iterations of each source's sketch beyond its three passes: none, since the
    /// selection's certificate decides whether a source needs its exact SVD after all (on the
    /// ViT benchmark's 384 task vectors, 2 do).
    static let sketchPowerIterations = 0

    /// The sources whose bounds leave `selected` in doubt: it is certain when the smallest
    /// positive lower bound of a selected component exceeds every upper bound of a component
    /// left out (a source's first unselected one, when above the source's noise floor). In
    /// doubt are the sources of components on the wrong side of those two numbers. Empty when
    /// certain.
    /// Values are compared as the pool ranks them (times the source's `scales` entry, 1 when
    /// absent); components a quota kept have a certain place and are not compared.
    static func uncertainSources(
        _ selected: [Component], bounds: [SpectrumBounds], floors: [Float?], scales: [Float] = []
    ) -> [Int] {
        var counts = [Int](repeating: 0, count: bounds.count)
        for component in selected { counts[component.source] += 1 }
        func scale(_ source: Int) -> Float { source < scales.count ? scales[source] : 1 }
        func lower(_ component: Component) -> Float {
            bounds[component.source].lower(component.index) * scale(component.source)
        }
        // Components within their source's rounding margin of zero (a low-rank task vector's
        // numerical noise) are not ordered by any SVD, the exact one included: only the others
        // need a certain place.
        let meaningful = selected.filter { !$0.byQuota && bounds[$0.source].lower($0.index) > 0 }
        guard let lowest = meaningful.map(lower).min() else { return [] }
        let outside = bounds.indices.map { source -> Float in
            let upper = bounds[source].upper(counts[source])
            let floor = source < floors.count ? floors[source] ?? 0 : 0
            return upper > floor ? upper * scale(source) : 0
        }
        let highest = outside.max() ?? 0
        // Nothing left out can reach the meaningful part of the selection.
        if highest < lowest { return [] }
        var doubtful = Set(outside.indices.filter { outside[$0] >= lowest })
        for component in meaningful where lower(component) <= highest {
            doubtful.insert(component.source)
        }
        return doubtful.sorted()
    }

    /// The global top `k` nonzero components, largest first, ties broken by source then index.
    /// A source's components at or below its noise floor (`floors`, nil for none) are not
    /// pooled; how many each source lost is returned beside.
    /// The pool ranks `value · scales[source]` (1 where `scales` has no entry); with a
    /// `quota`, each source's first `quota` components are kept before the ranking fills the
    /// other places.
    static func select(
        _ decompositions: [SingularValueDecomposition], k: Int, floors: [Float?] = [], scales: [Float] = [],
        quota: Int = 0
    ) -> (selected: [Component], belowFloor: [Int]) {
        var pool: [Component] = []
        var kept: [Component] = []
        var belowFloor = [Int](repeating: 0, count: decompositions.count)
        for (source, svd) in decompositions.enumerated() {
            let floor = source < floors.count ? floors[source] ?? 0 : 0
            let scale = source < scales.count ? scales[source] : 1
            for (index, value) in svd.singularValues.enumerated() where value > 0 {
                guard value > floor else {
                    belowFloor[source] += 1
                    continue
                }
                let component = Component(
                    value: value, source: source, index: index, key: value * scale, byQuota: index < quota)
                if component.byQuota { kept.append(component) } else { pool.append(component) }
            }
        }
        func ordered(_ a: Component, _ b: Component) -> Bool {
            (a.key, -a.source, -a.index) > (b.key, -b.source, -b.index)
        }
        pool.sort(by: ordered)
        let selected = (kept + pool.prefix(max(k - kept.count, 0))).sorted(by: ordered)
        return (Array(selected.prefix(k)), belowFloor)
    }

    /// `sum u s v^T` over `selected` as an SVD `Ut diag(St) Vt^T`, through
    /// `A = Qa Ra`, `B = Qb Rb` and the SVD of `Ra Rb^T`. Cost O((m + n) K^2).
    static func reorthogonalise(
        _ selected: [Component], from decompositions: [SingularValueDecomposition], rows m: Int, columns n: Int
    ) throws(AmalgamError) -> LowRankFactors {
        let count = selected.count
        guard count > 0 else {
            return LowRankFactors(u: Matrix(zeros: m, 0), s: [], v: Matrix(zeros: n, 0))
        }
        var a = Matrix(zeros: m, count)
        var b = Matrix(zeros: n, count)
        for (column, component) in selected.enumerated() {
            let svd = decompositions[component.source]
            for i in 0..<m { a[i, column] = svd.u[i, component.index] * component.value }
            for j in 0..<n { b[j, column] = svd.vt[component.index, j] }
        }
        return try lowRankSVD(a, b)
    }

    /// The SVD of `A Bᵀ` (`A` m x r, `B` n x r) through thin QRs of both and an SVD of the
    /// small `Ra Rbᵀ`, directions of (numerically) zero weight dropped. Cost O((m + n) r²).
    static func lowRankSVD(_ a: Matrix, _ b: Matrix) throws(AmalgamError) -> LowRankFactors {
        guard a.columns > 0 else {
            return LowRankFactors(u: Matrix(zeros: a.rows, 0), s: [], v: Matrix(zeros: b.rows, 0))
        }
        let qa = try QRDecomposition(a)
        let qb = try QRDecomposition(b)
        let core = try BLAS.multiply(qa.r, qb.r, transposeB: true)  // ra x rb
        let small = try SingularValueDecomposition(core)
        let u = try BLAS.multiply(qa.q, small.u)  // m x r
        let v = try BLAS.multiply(qb.q, small.vt, transposeB: true)  // n x r
        // Drop directions with (numerically) zero weight: the sum has rank <= count.
        let largest = small.singularValues.first ?? 0
        let rank = small.singularValues.prefix { $0 > largest * 1e-6 }.count
        let svd = SingularValueDecomposition(u: u, singularValues: small.singularValues, vt: v.transposed).truncated(
            to: rank)
        return LowRankFactors(u: svd.u, s: svd.singularValues, v: svd.vt.transposed)
    }

    /// TSV-M's decorrelation on the selection: the kept `U` and `V` columns each replaced
    /// by their nearest orthogonal matrix, `U⊥ diag(σ) V⊥ᵀ` (already an SVD: both sides have
    /// orthonormal columns), largest value first.
    static func orthogonalised(
        _ selected: [Component], from decompositions: [SingularValueDecomposition], rows m: Int, columns n: Int
    ) throws(AmalgamError) -> LowRankFactors {
        let order = selected.indices.sorted { selected[$0].value > selected[$1].value }
        let count = order.count
        guard count > 0 else { return try lowRankSVD(Matrix(zeros: m, 0), Matrix(zeros: n, 0)) }
        var u = Matrix(zeros: m, count)
        var v = Matrix(zeros: n, count)
        for (column, position) in order.enumerated() {
            let component = selected[position]
            let svd = decompositions[component.source]
            for i in 0..<m { u[i, column] = svd.u[i, component.index] }
            for j in 0..<n { v[j, column] = svd.vt[component.index, j] }
        }
        return LowRankFactors(
            u: try TSVMerge.nearestOrthogonal(u), s: order.map { selected[$0].value },
            v: try TSVMerge.nearestOrthogonal(v))
    }

    /// `factors` followed by the SVD of `(I − U Uᵀ) ΔTSV`: TSV-M's update of the same input
    /// (each source's top `min(m, n) / T`, decomposed again from the dense task vectors) less
    /// its part in `U`'s column space, so the K components stay what Stage 2 trains and the
    /// rest of TSV-M's update is what it keeps frozen.
    static func appendingTSVRemainder(to factors: LowRankFactors, input: TensorMergeInput) throws -> LowRankFactors {
        var dense: [[Float]] = []
        for position in input.taskVectors.indices {
            if input.factored(position) != nil {
                dense.append([])
            } else if let vector = try input.denseTaskVector(position) {
                dense.append(vector)
            } else {
                throw AmalgamError(
                    .internal, "AXIS's TSV-M remainder needs every dense task vector again", tensor: input.name)
            }
        }
        var tsvInput = TensorMergeInput(
            name: input.name, shape: input.shape, base: input.base, taskVectors: dense,
            sourceIndices: input.sourceIndices, isMergedMatrix: true, seed: input.seed)
        tsvInput.factoredTaskVectors = input.factoredTaskVectors
        tsvInput.noise = input.noise
        tsvInput.noiseFloor = input.noiseFloor
        let update = try TSVMerge().orthogonalUpdate(tsvInput)
        // A = U⊥ diag(σ) − U (Uᵀ U⊥ diag(σ)): the columns outside U's span.
        var a = update.u.scalingColumns(by: update.s)
        if !factors.s.isEmpty {
            let projection = try BLAS.multiply(factors.u, transposeA: true, a)
            try BLAS.gemm(factors.u, projection, alpha: -1, beta: 1, into: &a)
        }
        let rest = try lowRankSVD(a, update.v)
        return LowRankFactors(
            u: Matrix.concatenatingColumns(factors.u, rest.u), s: factors.s + rest.s,
            v: Matrix.concatenatingColumns(factors.v, rest.v))
    }
}
