import AmalgamCore
import LinearAlgebra
import Synchronization
import Testing

@testable import MergeKernel

/// AXIS and TSV-M reduce each task vector as the executor reads it (`MergeMethod.reduce`), so a
/// tensor's task vectors are never held together: merging from those reductions gives the same
/// bytes and report as merging the dense task vectors, in both SVD paths.
struct ReducedTaskVectorTests {
    static let methods: [any MergeMethod] = [
        AXISMerge(count: 6), AXISMerge(count: 6, exactSVD: true), TSVMerge(), TSVMerge(exactSVD: true),
    ]

    /// `dense` as the executor hands it over: every task vector reduced by `method` as it was read.
    static func reduced(_ dense: TensorMergeInput, by method: any MergeMethod) throws -> TensorMergeInput {
        var reduced = TensorMergeInput(
            name: dense.name, shape: dense.shape, base: dense.base,
            taskVectors: dense.taskVectors.map { _ in [] }, sourceIndices: dense.sourceIndices,
            isMergedMatrix: dense.isMergedMatrix, seed: dense.seed)
        reduced.reducedTaskVectors = try zip(dense.taskVectors, dense.sourceIndices).map { delta, source in
            try #require(
                try method.reduce(
                    Matrix(rows: dense.rows, columns: dense.columns, elements: delta),
                    context: ReductionContext(
                        seed: dense.seed, sourceIndex: source, presentSources: dense.taskVectors.count)))
        }
        return reduced
    }

    @Test("merging from per-source reductions equals merging the dense task vectors", arguments: 0..<4)
    func sameBytes(method index: Int) throws {
        let method = Self.methods[index]
        let (m, n) = (40, 24)
        let base = try lowRankPlusNoise(rows: m, columns: n, rank: 8, scale: 1, noise: 0.1, seed: 1)
        let sources = try (0..<3).map { source in
            zip(base, try lowRankPlusNoise(rows: m, columns: n, rank: 5, scale: 0.2, noise: 0.01, seed: 10 + source))
                .map { $0 + $1 }
        }
        // Sources 0, 2 and 3 of four present: seeds and k follow the source positions.
        let dense = TensorMergeInput(
            name: "w", shape: Shape([m, n]), base: base, sources: sources, sourceIndices: [0, 2, 3],
            isMergedMatrix: true, seed: 42)
        var reduced = try Self.reduced(dense, by: method)
        // AXIS reads a source again where its certificate needs the exact SVD.
        let taskVectors = dense.taskVectors
        reduced.taskVectorReader = { taskVectors[$0] }
        let expected = try method.merge(dense)
        let actual = try method.merge(reduced)
        #expect(actual.merged.map(\.bitPattern) == expected.merged.map(\.bitPattern))
        #expect(JSONValue.object(actual.details).serialized() == JSONValue.object(expected.details).serialized())
        #expect(actual.factors?.s == expected.factors?.s)
    }

    @Test("AXIS reads back exactly the sources its certificate refines, and gives the dense path's bytes")
    func rereadsForCertificate() throws {
        let (m, n, k) = (80, 60, 8)
        var random = SeededRandom(seed: 8)
        let base = [Float](repeating: 0, count: m * n)
        let sources = (0..<3).map { _ in (0..<(m * n)).map { _ in 0.01 * Float(random.nextGaussian()) } }
        let method = AXISMerge(count: k)
        let dense = TensorMergeInput(
            name: "w", shape: Shape([m, n]), base: base, sources: sources, sourceIndices: [0, 1, 2],
            isMergedMatrix: true, seed: 3)
        var reduced = try Self.reduced(dense, by: method)
        let reads = Mutex<[Int]>([])
        let taskVectors = dense.taskVectors
        reduced.taskVectorReader = { position in
            reads.withLock { $0.append(position) }
            return taskVectors[position]
        }
        let expected = try method.merge(dense)
        let actual = try method.merge(reduced)
        #expect(actual.merged.map(\.bitPattern) == expected.merged.map(\.bitPattern))
        let details = JSONValue.object(actual.details)
        let refined =
            try #require(details["gram_svd_sources"]?.arrayValue) + #require(details["exact_svd_sources"]?.arrayValue)
        // A source the Gram step leaves in doubt is read again for `sgesdd` (and listed there only).
        #expect(
            !refined.isEmpty && Set(reads.withLock { $0 }) == Set(refined.compactMap(\.uint64Value).map { Int($0) }))
    }

    @Test("methods that need every task vector at once reduce nothing")
    func othersKeepDense() throws {
        let matrix = Matrix(zeros: 4, 4)
        let context = ReductionContext(seed: 1, sourceIndex: 0, presentSources: 2)
        #expect(try TaskArithmeticMerge(lambda: 1).reduce(matrix, context: context) == nil)
        #expect(try TIESMerge(density: 0.5).reduce(matrix, context: context) == nil)
    }
}
