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
public struct AXISMerge: MergeMethod {
    /// `K` as a count, or as a fraction of `min(m, n)` (round half up).
    public let count: Int?
    public let fraction: Double?
    public let exactSVD: Bool

    /// K's fraction of `min(m, n)` when neither a count nor a fraction is given.
    public static let defaultFraction = 0.1

    public init(count: Int? = nil, fraction: Double? = nil, exactSVD: Bool = false) {
        self.count = count
        self.fraction = count == nil ? (fraction ?? Self.defaultFraction) : nil
        self.exactSVD = exactSVD
    }

    public var name: String { "axis" }
    public var takesFactoredTaskVectors: Bool { true }
    public var settings: [(key: String, value: JSONValue)] {
        var entries: [(key: String, value: JSONValue)] = []
        if let count { entries.append(("k", .integer(count))) }
        if let fraction { entries.append(("k_fraction", .number("\(fraction)"))) }
        entries.append(("exact_svd", .bool(exactSVD)))
        return entries
    }

    /// One pooled rank-one component.
    struct Component {
        let value: Float
        let source: Int
        let index: Int
    }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult {
        guard input.isMergedMatrix, input.shape.rank == 2 else {
            return TensorMergeResult(merged: MergeMath.meanTaskVector(input))
        }
        let m = input.rows
        let n = input.columns
        let k = MergeMath.rank(count: count, fraction: fraction, rows: m, columns: n)
        let deltas = input.taskVectors
        var totalEnergy = 0.0
        var decompositions: [SingularValueDecomposition] = []
        var bounds: [SpectrumBounds] = []
        for (position, delta) in deltas.enumerated() {
            // A LoRA source's top K comes exactly from its factors (O((m + n) r²)).
            if let factored = input.factored(position) {
                totalEnergy += try factored.squaredNorm
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
            totalEnergy += reduced.squaredNorm
            decompositions.append(reduced.decomposition)
            bounds.append(reduced.bounds ?? .exact(reduced.decomposition.singularValues))
        }
        let floors = deltas.indices.map { input.singularValueFloor($0) }
        var (selected, belowFloor) = Self.select(decompositions, k: k, floors: floors)
        // Sources whose bounds leave the selection open are decomposed again, one step more
        // exact each round (sketch, then the f64 Gram eigenpairs, then `sgesdd`), until the
        // selection is certain or every source in doubt is exact.
        var refined: [Int] = []
        var gramRefined: [Int] = []
        while true {
            let doubtful = Self.uncertainSources(selected, bounds: bounds, floors: floors).filter {
                !bounds[$0].isExact
            }
            if doubtful.isEmpty { break }
            // Doubt that would stay with the sketches' values taken as exact comes from values
            // closer than the rounding margin (a noise floor at the selection's edge), which no
            // f64 Gram matrix settles: those sources go to `sgesdd` at once (one decomposition
            // instead of two; the selection is the same either way).
            let valuesAsExact = bounds.map { $0.kind == .sketch ? SpectrumBounds.gram($0.values, squaredError: 0) : $0 }
            let withinMargin = Set(Self.uncertainSources(selected, bounds: valuesAsExact, floors: floors))
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
            (selected, belowFloor) = Self.select(decompositions, k: k, floors: floors)
        }
        let certified = Self.uncertainSources(selected, bounds: bounds, floors: floors).isEmpty
        let factors = try Self.reorthogonalise(selected, from: decompositions, rows: m, columns: n)
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
            ("merged_singular_values", .numbers(factors.s)),
        ]
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
    static func uncertainSources(
        _ selected: [Component], bounds: [SpectrumBounds], floors: [Float?]
    ) -> [Int] {
        var counts = [Int](repeating: 0, count: bounds.count)
        for component in selected { counts[component.source] += 1 }
        // Components within their source's rounding margin of zero (a low-rank task vector's
        // numerical noise) are not ordered by any SVD, the exact one included: only the others
        // need a certain place.
        let meaningful = selected.filter { bounds[$0.source].lower($0.index) > 0 }
        guard let lowest = meaningful.map({ bounds[$0.source].lower($0.index) }).min() else { return [] }
        let outside = bounds.indices.map { source -> Float in
            let upper = bounds[source].upper(counts[source])
            let floor = source < floors.count ? floors[source] ?? 0 : 0
            return upper > floor ? upper : 0
        }
        let highest = outside.max() ?? 0
        // Nothing left out can reach the meaningful part of the selection.
        if highest < lowest { return [] }
        var doubtful = Set(outside.indices.filter { outside[$0] >= lowest })
        for component in meaningful where bounds[component.source].lower(component.index) <= highest {
            doubtful.insert(component.source)
        }
        return doubtful.sorted()
    }

    /// The global top `k` nonzero components, largest first, ties broken by source then index.
    /// A source's components at or below its noise floor (`floors`, nil for none) are not
    /// pooled; how many each source lost is returned beside.
    static func select(
        _ decompositions: [SingularValueDecomposition], k: Int, floors: [Float?] = []
    ) -> (selected: [Component], belowFloor: [Int]) {
        var pool: [Component] = []
        var belowFloor = [Int](repeating: 0, count: decompositions.count)
        for (source, svd) in decompositions.enumerated() {
            let floor = source < floors.count ? floors[source] ?? 0 : 0
            for (index, value) in svd.singularValues.enumerated() where value > 0 {
                guard value > floor else {
                    belowFloor[source] += 1
                    continue
                }
                pool.append(Component(value: value, source: source, index: index))
            }
        }
        pool.sort { ($0.value, -$0.source, -$0.index) > ($1.value, -$1.source, -$1.index) }
        return (Array(pool.prefix(k)), belowFloor)
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
}
