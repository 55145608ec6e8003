/// A small, fast, seedable generator (SplitMix64) so results are reproducible from a seed
/// on every platform. Not for cryptography.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator of its own for `name` (a tensor, a task) under `seed`, so streams do not
    /// depend on the order things are visited in.
    public init(seed: UInt64, stream name: String) { state = seed ^ Self.fingerprint(name) }

    /// FNV-1a of a name's UTF-8 bytes: stable across runs and platforms.
    public static func fingerprint(_ name: String) -> UInt64 {
        name.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform float in [-1, 1) built from 24 random bits (exact, no rounding bias).
    public mutating func nextSignedUnitFloat() -> Float {
        Float(Int32(truncatingIfNeeded: next() >> 40) - (1 << 23)) / Float(1 << 23)
    }

    /// Uniform in [0, 1), from 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// A seeded Fisher-Yates shuffle of `0..<count` (an epoch's order, a data split).
    public mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        guard count > 1 else { return order }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        return order
    }

    /// `count` standard normal samples in f32, two per 64 random bits: Box–Muller with both the
    /// cosine and the sine of 24-bit uniforms, so `|z|` stays below 5.8. For sketches and
    /// probes, where the draws need only be Gaussian and fast (4x fewer `log` and `cos` calls
    /// than `nextGaussian`, in f32).
    public mutating func gaussianFloats(_ count: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            var i = 0
            while i < count {
                let bits = next()
                let u1 = (Float(bits >> 40) + 1) / Float(1 << 24)  // (0, 1]
                let u2 = Float((bits >> 16) & 0xFF_FFFF) / Float(1 << 24)  // [0, 1)
                let radius = (-2 * logf(u1)).squareRoot()
                let angle = 2 * Float.pi * u2
                buffer[i] = radius * cosf(angle)
                if i + 1 < count { buffer[i + 1] = radius * sinf(angle) }
                i += 2
            }
            initialized = count
        }
    }

    /// A standard normal sample (Box-Muller, f64 internally).
    public mutating func nextGaussian() -> Double {
        let u1 = (Double(next() >> 11) + 1) / 9_007_199_254_740_993.0
        let u2 = Double(next() >> 11) / 9_007_199_254_740_992.0
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
