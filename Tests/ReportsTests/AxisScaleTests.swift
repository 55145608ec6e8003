import Testing

@testable import Reports

struct AxisScaleTests {
    @Test("linear scales widen to round numbers and tick on them")
    func linearTicks() {
        let scale = LinearScale(covering: [0.8123, 0.9051], from: 300, to: 0, tickCount: 5)
        #expect(scale.step == 0.02)
        #expect(abs(scale.lower - 0.8) < 1e-12 && abs(scale.upper - 0.92) < 1e-12)
        #expect(scale.ticks.map { scale.label($0) } == ["0.80", "0.82", "0.84", "0.86", "0.88", "0.90", "0.92"])
        #expect(scale.position(scale.lower) == 300 && abs(scale.position(scale.upper)) < 1e-9)
    }

    @Test(
        "nice steps are 1, 2, 2.5 or 5 times a power of ten",
        arguments: [
            (0.7, 1.0), (1.3, 2.0), (2.2, 2.5), (3.0, 5.0), (7.5, 10.0), (0.013, 0.02), (420.0, 500.0),
        ])
    func niceSteps(raw: Double, step: Double) {
        #expect(abs(LinearScale.niceStep(raw) - step) < step * 1e-12)
    }

    @Test("a constant series gets a domain around it; zero is included on request")
    func degenerate() {
        let constant = LinearScale(covering: [5, 5], from: 0, to: 100)
        #expect(constant.lower < 5 && constant.upper > 5)
        let zero = LinearScale(covering: [3, 4], from: 0, to: 100, includingZero: true)
        #expect(zero.lower == 0 && zero.ticks.first == 0)
        let none = LinearScale(covering: [.nan, .infinity], from: 0, to: 100)
        #expect(none.lower <= 0 && none.upper >= 0)
    }

    @Test("log scales cover whole decades and leave out what they cannot place")
    func logDecades() {
        let scale = LogScale(covering: [0.0042, 0, -1, 37], from: 200, to: 0)
        #expect(scale.lowerExponent == -3 && scale.upperExponent == 2)
        #expect(scale.ticks.map { scale.label($0) } == ["0.001", "0.01", "0.1", "1", "10", "100"])
        #expect(!scale.accepts(0) && !scale.accepts(-1) && scale.accepts(1e-30))
        #expect(abs(scale.position(0.1) - 120) < 1e-9)
        let wide = LogScale(covering: [1e-12, 1e3], from: 0, to: 1)
        #expect(wide.ticks.count == 6 && wide.label(1e-12) == "1e-12")
        let power = LogScale(covering: [10, 100], from: 0, to: 1)
        #expect(power.lowerExponent == 1 && power.upperExponent == 2)
    }
}
