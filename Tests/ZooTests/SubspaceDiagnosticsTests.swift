import AmalgamCore
import Testing

@testable import Zoo

/// The benchmark's subspace measures on a matrix small enough to work out by hand.
struct SubspaceDiagnosticsTests {
    /// `Σ values[i] · e_i e_iᵀ` as a 4 x 3 tensor named `w`.
    static func diagonal(_ values: [Float]) throws -> ModelGraph {
        var elements = [Float](repeating: 0, count: 12)
        for (i, value) in values.enumerated() { elements[i * 3 + i] = value }
        return try ModelGraph(tensors: [Tensor(name: "w", shape: [4, 3], floats: elements)])
    }

    @Test("energies, principal-angle overlaps and the frozen remainder of U = [e1 e2], s = [2, 1], N = 1")
    func handWorked() throws {
        var factors = FactorSet()
        // Row-major U (4 x 2) and V (3 x 2): columns e1 and e2.
        factors.add(
            FactorSet.Factors(rows: 4, columns: 3, u: [1, 0, 0, 1, 0, 0, 0, 0], s: [2, 1], v: [1, 0, 0, 1, 0, 0]),
            for: "w")
        let base = try Self.diagonal([0, 0, 0])
        let sources = [try Self.diagonal([3, 4, 0]), try Self.diagonal([0, 0, 5])]
        let target = try Self.diagonal([1, 0.5, 0])
        let measured = try SubspaceDiagnostics(
            factors: factors, counts: ["w": 1], base: base, sources: sources, target: target)
        // Source 1 holds 9 of its 25 in e1 e1ᵀ, source 2 nothing.
        #expect(abs(measured.leastSourceEnergy) < 1e-9 && abs(measured.mostSourceEnergy - 0.36) < 1e-6)
        #expect(abs(measured.sourceEnergy - 0.18) < 1e-6)
        // The target: 1 of 1.25 in e1 e1ᵀ; its top left and right vectors are e1.
        #expect(abs(measured.targetEnergy - 0.8) < 1e-6)
        #expect(abs(measured.leftOverlap - 1) < 1e-6 && abs(measured.rightOverlap - 1) < 1e-6)
        // The remainder 1 · e2 e2ᵀ: 1 of the update's 5, cosine 0.5 / √1.25 with the target.
        #expect(abs(measured.remainderShare - 0.2) < 1e-6)
        #expect(abs(measured.remainderAlignment - 0.5 / 1.25.squareRoot()) < 1e-6)
        let read = try #require(SubspaceDiagnostics(json: measured.json))
        #expect(zip(read.values, measured.values).allSatisfy { abs($0 - $1) < 1e-6 })
        // Training both: no remainder.
        let both = try SubspaceDiagnostics(
            factors: factors, counts: ["w": 2], base: base, sources: sources, target: target)
        #expect(both.remainderShare == 0 && both.remainderAlignment == 0 && abs(both.targetEnergy - 1) < 1e-6)
    }
}
