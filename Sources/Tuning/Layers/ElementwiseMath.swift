/// Branch-free `exp` and normal CDF in plain arithmetic, so loops over them vectorise
/// (a call to libm's `expf` or `erff` per element keeps a loop scalar; GELU and softmax
/// spent 15 % of a MiniLM training step there), and double-precision sums that keep the
/// adder busy.
enum ElementwiseMath {
    private static let log2e: Float = 1.442_695_04
    /// ln 2 split so that `n · ln2High` is exact for |n| < 2¹⁰.
    private static let ln2High: Float = 0.693_145_751_953_125
    private static let ln2Low: Float = 1.428_606_765_330_187e-6
    /// Below this `e^x` is under the smallest normal float: flushed to 0.
    private static let lowest: Float = -87.33
    private static let roundingShift: Float = 12_582_912

    /// `e^x` for `x ≤ 0` (including −∞ and −greatestFiniteMagnitude, which give 0), relative
    /// error below 3 · 10⁻⁷: `x = n ln 2 + r` with |r| ≤ ln 2 / 2, `e^r` by its Taylor
    /// polynomial to degree 7 (truncation below 6 · 10⁻⁹), `2ⁿ` put in the exponent bits.
    @inline(__always)
    static func exponential(nonPositive x: Float) -> Float {
        let clamped = max(x, lowest)
        // Adding 1.5 · 2²³ rounds to an integer n held in the low mantissa bits: no
        // float-to-int conversion (whose range check would keep the loop scalar).
        let shifted = clamped * log2e + roundingShift
        let n = shifted - roundingShift
        let r = (clamped - n * ln2High) - n * ln2Low
        var p: Float = 1 / 5040
        p = p * r + 1 / 720
        p = p * r + 1 / 120
        p = p * r + 1 / 24
        p = p * r + 1 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let scale = Float(bitPattern: (shifted.bitPattern &- roundingShift.bitPattern &+ 127) &<< 23)
        return x < lowest ? 0 : p * scale
    }

    private static let density = 1 / Float(2 * Double.pi).squareRoot()
    private static let inverseRoot2 = 1 / Float(2).squareRoot()

    /// The standard normal's CDF `Φ(x)` and density `φ(x)`, absolute error of Φ below 3 · 10⁻⁷:
    /// Abramowitz & Stegun 7.1.26 for `erf(|x|/√2)` (error ≤ 1.5 · 10⁻⁷), whose `e^{−x²/2}`
    /// is also the density's, so one exponential gives both. Written as `½ · poly · e` on the
    /// negative side, Φ keeps its relative accuracy in the left tail.
    @inline(__always)
    static func normal(_ x: Float) -> (cumulative: Float, density: Float) {
        let e = exponential(nonPositive: -0.5 * x * x)
        let t = 1 / (1 + 0.327_591_1 * abs(x) * inverseRoot2)
        var poly: Float = 1.061_405_429
        poly = poly * t - 1.453_152_027
        poly = poly * t + 1.421_413_741
        poly = poly * t - 0.284_496_736
        poly = poly * t + 0.254_829_592
        let tail = 0.5 * poly * t * e
        return (x >= 0 ? 1 - tail : tail, density * e)
    }

    /// `Σ x` over `count` floats in double precision, in eight interleaved partial sums (one
    /// running sum is a chain of dependent adds, four cycles each).
    static func sum(_ values: UnsafePointer<Float>, count: Int) -> Double {
        var sums = SIMD8<Double>()
        var index = 0
        while index + 8 <= count {
            sums += SIMD8<Double>(
                Double(values[index]), Double(values[index + 1]), Double(values[index + 2]),
                Double(values[index + 3]), Double(values[index + 4]), Double(values[index + 5]),
                Double(values[index + 6]), Double(values[index + 7]))
            index += 8
        }
        var sum = sums.sum()
        while index < count {
            sum += Double(values[index])
            index += 1
        }
        return sum
    }

    /// `Σ (x − offset)²` over `count` floats in double precision, eight partial sums as `sum`
    /// (`SumOfSquares.of` is the one for a plain sum of squares).
    static func sumOfSquares(_ values: UnsafePointer<Float>, count: Int, minus offset: Double) -> Double {
        var sums = SIMD8<Double>()
        var index = 0
        while index + 8 <= count {
            let d =
                SIMD8<Double>(
                    Double(values[index]), Double(values[index + 1]), Double(values[index + 2]),
                    Double(values[index + 3]), Double(values[index + 4]), Double(values[index + 5]),
                    Double(values[index + 6]), Double(values[index + 7])) - offset
            sums += d * d
            index += 8
        }
        var sum = sums.sum()
        while index < count {
            let d = Double(values[index]) - offset
            sum += d * d
            index += 1
        }
        return sum
    }
}
