import Foundation

/// The libm functions the charts use, in one place.
enum Numerics {
    static func log10(_ value: Double) -> Double { Foundation.log10(value) }

    static func power10(_ exponent: Int) -> Double { pow(10, Double(exponent)) }

    /// `⌊log10(value)⌋` for a positive value, exact at powers of ten (0 for zero, negative
    /// and non-finite values, which have none).
    static func floorLog10(_ value: Double) -> Int {
        guard value > 0, value.isFinite else { return 0 }
        var exponent = Int(log10(value).rounded(.down))
        if power10(exponent + 1) <= value { exponent += 1 }
        if power10(exponent) > value { exponent -= 1 }
        return exponent
    }
}
