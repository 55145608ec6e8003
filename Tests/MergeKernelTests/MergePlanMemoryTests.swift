import AmalgamCore
import Testing

@testable import MergeKernel

/// The working memory a merge plans for (the dry run's figure and the worker cap): every
/// source collected per tensor, or five copies where the method merges as the sources are read.
struct MergePlanMemoryTests {
    /// A base with one 30 x 20 matrix and a bias of 30, and `count` sources like it.
    static func plan(sources count: Int, method: any MergeMethod) throws -> MergePlan {
        func graph() throws -> ModelGraph {
            try ModelGraph(tensors: [
                Tensor(name: "layer.weight", shape: [30, 20], floats: [Float](repeating: 1, count: 600)),
                Tensor(name: "layer.bias", shape: [30], floats: [Float](repeating: 0, count: 30)),
            ])
        }
        return try MergePlan.make(
            MergeRequest(
                base: try graph(), baseLabel: "base", sources: try (0..<count).map { _ in try graph() },
                sourceLabels: (0..<count).map { "s\($0)" }, method: method))
    }

    @Test("a running merge holds five copies of a tensor whatever the number of sources", arguments: [2, 8, 16])
    func runningMerges(count: Int) throws {
        for method: any MergeMethod in [TaskArithmeticMerge(lambda: 0.3), DAREMerge(drop: 0.5, ties: false)] {
            let plan = try Self.plan(sources: count, method: method)
            // The matrix (600 values) and the bias (30), 4 bytes each, five copies.
            #expect(plan.memoryEstimate(threads: 2, method: method) == (600 + 30) * 4 * 5, "\(method.name)")
            #expect(plan.memoryEstimate(threads: 1, method: method) == 600 * 4 * 5, "\(method.name)")
        }
    }

    @Test("methods that need every source at once count them all", arguments: [2, 8])
    func batchMerges(count: Int) throws {
        let method = TIESMerge(density: 0.5, lambda: 1)
        let plan = try Self.plan(sources: count, method: method)
        // Matrix: base, sources and result, twice over for SVD room; bias: base, sources and result.
        #expect(
            plan.memoryEstimate(threads: 2, method: method) == 600 * 4 * 2 * (count + 2) + 30 * 4 * (count + 2))
        // The average runs as read from four sources only (below, its f64 sums outweigh the sources).
        let average = try Self.plan(sources: count, method: AverageMerge())
        let expected = count >= 4 ? 600 * 4 * 5 : 600 * 4 * 2 * (count + 2)
        #expect(average.memoryEstimate(threads: 1, method: AverageMerge()) == expected)
    }
}
