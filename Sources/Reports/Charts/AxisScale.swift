/// How data values along one axis become pixel positions, and where its labelled ticks go.
///
/// Contract: `position` is monotonic over the domain, maps the domain's ends onto `start`
/// and `end`, and every tick lies inside the domain.
protocol AxisScale: Sendable {
    /// `data-scale` of the chart: `linear`, `log` or `band`.
    var kind: String { get }
    /// Pixel positions of the domain's ends (`start` may exceed `end`: y grows downwards).
    var start: Double { get }
    var end: Double { get }
    func position(_ value: Double) -> Double
    var ticks: [Double] { get }
    func label(_ tick: Double) -> String
    /// Whether the scale can place `value` (a log scale cannot place zero or negatives).
    func accepts(_ value: Double) -> Bool
}

/// A linear scale over a domain widened to round numbers (1, 2, 2.5 or 5 times a power of
/// ten per tick), so that ticks fall on values people read easily.
struct LinearScale: AxisScale {
    let lower: Double
    let upper: Double
    let step: Double
    let start: Double
    let end: Double
    var kind: String { "linear" }

    /// A scale covering every finite value of `values` (and zero when `includingZero`),
    /// with about `tickCount` intervals; whole-number steps when `integers` (layers, epochs).
    init(
        covering values: [Double], from start: Double, to end: Double, tickCount: Int = 5, includingZero: Bool = false,
        integers: Bool = false
    ) {
        // Values a chart can place: finite, and small enough that spans and steps stay finite.
        var finite = values.filter(\.isFinite).map { min(max($0, -Self.limit), Self.limit) }
        if includingZero || finite.isEmpty { finite.append(0) }
        var low = finite.min()!
        var high = finite.max()!
        if high - low <= max(abs(low), abs(high)) * 1e-9 || high - low < 1e-290 {
            let pad = max(abs(low) * 0.1, 1e-290, high - low)
            low -= pad
            high += pad
        }
        let raw = Self.niceStep((high - low) / Double(max(1, tickCount)))
        let step = integers ? max(1, raw.rounded(.down)) : raw  // 2.5 becomes 2
        self.step = step
        self.lower = (low / step).rounded(.down) * step
        self.upper = (high / step).rounded(.up) * step
        self.start = start
        self.end = end
    }

    /// The largest magnitude placed; larger values sit at the edge (no chart spans more).
    static let limit = 1e300

    /// 1, 2, 2.5 or 5 times a power of ten, the smallest at or above `raw`.
    static func niceStep(_ raw: Double) -> Double {
        let magnitude = Numerics.power10(Numerics.floorLog10(raw))
        let residual = raw / magnitude
        let factor: Double = residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 2.5 ? 2.5 : residual <= 5 ? 5 : 10
        return factor * magnitude
    }

    func position(_ value: Double) -> Double {
        let placed = min(max(value, -Self.limit), Self.limit)
        return start + (placed - lower) / (upper - lower) * (end - start)
    }

    var ticks: [Double] {
        let first = (lower / step).rounded()
        let count = Int(((upper - lower) / step).rounded())
        return (0...count).map { index in
            let value = (first + Double(index)) * step
            return abs(value) < step * 1e-9 ? 0 : value
        }
    }

    func label(_ tick: Double) -> String {
        let magnitude = max(abs(lower), abs(upper))
        if magnitude >= 1e6 || magnitude < 1e-3 { return HTMLText.short(tick) }
        return HTMLText.fixed(tick, digits: Self.decimals(of: step))
    }

    /// The decimals that write `step` (and so every tick) exactly: 2 for 0.25, 0 for 50.
    static func decimals(of step: Double) -> Int {
        var scaled = step
        for digits in 0...12 {
            if abs(scaled - scaled.rounded()) <= 1e-9 * scaled { return digits }
            scaled *= 10
        }
        return 12
    }

    func accepts(_ value: Double) -> Bool { value.isFinite }
}

/// A base-10 logarithmic scale over whole decades, ticked at each power of ten (every
/// second or third one when the decades are many).
struct LogScale: AxisScale {
    let lowerExponent: Int
    let upperExponent: Int
    let start: Double
    let end: Double
    var kind: String { "log" }

    /// A scale covering every positive finite value of `values` (1 when there is none).
    init(covering values: [Double], from start: Double, to end: Double) {
        // Beyond 1e±300 values sit at the edge: every decade's power of ten stays a normal double.
        let positive = values.filter { $0.isFinite && $0 > 0 }.map { min(max($0, 1e-300), 1e300) }
        let low = Numerics.floorLog10(positive.min() ?? 1)
        var high = Numerics.floorLog10(positive.max() ?? 1)
        if let largest = positive.max(), Numerics.power10(high) < largest { high += 1 }
        self.lowerExponent = low
        self.upperExponent = max(high, low + 1)
        self.start = start
        self.end = end
    }

    func position(_ value: Double) -> Double {
        let span = Double(upperExponent - lowerExponent)
        let placed = min(max(value, 1e-300), 1e300)
        return start + (Numerics.log10(placed) - Double(lowerExponent)) / span * (end - start)
    }

    var ticks: [Double] {
        let decades = upperExponent - lowerExponent
        let stride = decades <= 6 ? 1 : decades <= 12 ? 2 : 3
        return Swift.stride(from: lowerExponent, through: upperExponent, by: stride).map { Numerics.power10($0) }
    }

    func label(_ tick: Double) -> String {
        let exponent = Numerics.floorLog10(tick)
        if (-3...4).contains(exponent) { return HTMLText.trimmed(HTMLText.fixed(tick, digits: max(0, -exponent))) }
        return "1e\(exponent)"
    }

    func accepts(_ value: Double) -> Bool { value.isFinite && value > 0 }
}
