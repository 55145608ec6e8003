import Testing

@testable import AmalgamCore

struct FiniteCheckTests {
    @Test(
        "the first NaN or infinity is found, in the vector body and in the tail; finite values pass",
        arguments: [0, 15, 16, 4095, 4096, 9000, 10_006])
    func firstNonFinite(position: Int) {
        var values = (0..<10_007).map { Float($0) * 1e30 }  // large but finite
        #expect(FiniteCheck.firstNonFinite(values) == nil)
        values[position] = .nan
        values[min(position + 3, 10_006)] = .infinity
        #expect(FiniteCheck.firstNonFinite(values) == position)
        values[position] = -.infinity
        #expect(FiniteCheck.firstNonFinite(values) == position)
        #expect(FiniteCheck.firstNonFinite([]) == nil)
    }

    @Test("sums of squares agree with an f64 loop to 1e-6")
    func sumOfSquares() {
        var random = SeededRandom(seed: 3)
        var values = (0..<100_003).map { _ in random.nextSignedUnitFloat() }
        let base = (0..<100_003).map { _ in random.nextSignedUnitFloat() }
        let reference = values.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(abs(SumOfSquares.of(values) - reference) / reference < 1e-6)
        let expected = zip(values, base).map { $0 - $1 }
        let differenceReference = expected.reduce(0.0) { $0 + Double($1) * Double($1) }
        let squared = SumOfSquares.subtracting(base, from: &values)
        #expect(values == expected)
        #expect(abs(squared - differenceReference) / differenceReference < 1e-6)
    }
}
