import Foundation
import Testing

@testable import Tuning

@Suite struct ElementwiseMathTests {
    @Test("exp of non-positive floats is within 3e-7 relative of libm's double exp, 0 below the normal range")
    func exponential() {
        var worst = 0.0
        for step in 0...87_000 {
            let x = -Float(step) / 1000
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(ElementwiseMath.exponential(nonPositive: x)) - exact) / exact)
        }
        #expect(worst < 3e-7)
        #expect(ElementwiseMath.exponential(nonPositive: 0) == 1)
        #expect(ElementwiseMath.exponential(nonPositive: -88) == 0)
        #expect(ElementwiseMath.exponential(nonPositive: -Float.greatestFiniteMagnitude) == 0)
        #expect(ElementwiseMath.exponential(nonPositive: -.infinity) == 0)
    }

    /// The density's bound grows with x²: the float exponent −x²/2 is rounded (6e-8 relative),
    /// which any float `exp(-0.5 * x * x)` shares.
    @Test("the normal CDF is within 3e-7 of erfc's, the density within 3e-7 + 6e-8 x² relative, over [-12, 12]")
    func normal() {
        var (worstCumulative, worstDensity) = (0.0, 0.0)
        for step in -12_000...12_000 {
            let x = Float(step) / 1000
            let (cumulative, density) = ElementwiseMath.normal(x)
            let exactCumulative = 0.5 * Foundation.erfc(-Double(x) / 2.0.squareRoot())
            let exactDensity = Foundation.exp(-0.5 * Double(x) * Double(x)) / (2 * Double.pi).squareRoot()
            worstCumulative = max(worstCumulative, abs(Double(cumulative) - exactCumulative))
            if exactDensity > 1e-30 {
                let bound = 3e-7 + 6e-8 * Double(x) * Double(x)
                worstDensity = max(worstDensity, abs(Double(density) - exactDensity) / exactDensity / bound)
            }
        }
        #expect(worstCumulative < 3e-7)
        #expect(worstDensity < 1)
        #expect(ElementwiseMath.normal(0).cumulative == 0.5)
    }
}
