/// Exact conversions between `Float` and the small float formats (f16, bf16, f8), done on
/// bit patterns so they behave identically on every platform.
///
/// Contract for every `encode*` function: round to nearest, ties to even; subnormals are
/// produced and consumed exactly; infinities map to infinities (or to NaN for E4M3FN, which
/// has none, as ml_dtypes does); values that round past the largest finite value become
/// infinity (NaN for E4M3FN). NaNs stay NaN with the sign and the leading payload bits kept
/// (as numpy does for f16); if truncation would empty the payload, f16 gets payload 1 (as
/// numpy) and bf16/f8 get the quiet bit (as ml_dtypes). So every pattern of a small format
/// survives a round trip through `Float` unchanged.
public enum FloatBits {
    /// Describes a binary floating-point format narrower than `Float`.
    @usableFromInline
    struct Minifloat: Sendable {
        @usableFromInline let exponentBits: UInt32
        @usableFromInline let mantissaBits: UInt32
        /// True for "FN" formats with no infinities where NaN is only the all-ones pattern.
        @usableFromInline let finiteOnly: Bool
        /// The payload given to a NaN whose kept payload bits are all zero: numpy uses 1 for
        /// f16; ml_dtypes uses the quiet bit for the float8 formats.
        @usableFromInline let emptyNaNPayload: UInt32

        @inlinable init(exponentBits: UInt32, mantissaBits: UInt32, finiteOnly: Bool, emptyNaNPayload: UInt32) {
            self.exponentBits = exponentBits
            self.mantissaBits = mantissaBits
            self.finiteOnly = finiteOnly
            self.emptyNaNPayload = emptyNaNPayload
        }

        @inlinable var bias: Int32 { (1 << Int32(exponentBits - 1)) - 1 }
        @inlinable var signShift: UInt32 { exponentBits + mantissaBits }
        @inlinable var exponentMask: UInt32 { ((1 << exponentBits) - 1) << mantissaBits }
        @inlinable var mantissaMask: UInt32 { (1 << mantissaBits) - 1 }
        /// Largest finite magnitude pattern (for FN formats the all-ones pattern is NaN).
        @inlinable var maxFinite: UInt32 { finiteOnly ? (exponentMask | mantissaMask) - 1 : exponentMask - 1 }

        @usableFromInline static let f16 = Minifloat(
            exponentBits: 5, mantissaBits: 10, finiteOnly: false, emptyNaNPayload: 1)
        @usableFromInline static let e4m3fn = Minifloat(
            exponentBits: 4, mantissaBits: 3, finiteOnly: true, emptyNaNPayload: 0)
        @usableFromInline static let e5m2 = Minifloat(
            exponentBits: 5, mantissaBits: 2, finiteOnly: false, emptyNaNPayload: 2)
    }

    // MARK: Encoding (Float -> narrow), round to nearest even

    @inlinable
    static func encode(_ value: Float, as format: Minifloat) -> UInt32 {
        let bits = value.bitPattern
        let sign = (bits >> 31) << format.signShift
        let magnitude = bits & 0x7FFF_FFFF
        let nanPattern = format.exponentMask | format.mantissaMask
        if magnitude >= 0x7F80_0000 {
            if magnitude == 0x7F80_0000 {  // infinity
                return sign | (format.finiteOnly ? nanPattern : format.exponentMask)
            }
            if format.finiteOnly { return sign | nanPattern }
            var payload = (magnitude & 0x7F_FFFF) >> (23 - format.mantissaBits)
            if payload == 0 { payload = format.emptyNaNPayload }
            return sign | format.exponentMask | payload
        }
        let storedExponent = Int32(magnitude >> 23)
        let significand = (magnitude & 0x7F_FFFF) | (storedExponent != 0 ? 0x80_0000 : 0)
        let exponent = storedExponent != 0 ? storedExponent - 127 : -126
        let minimumExponent = 1 - format.bias
        var shift = Int32(23 - format.mantissaBits)
        let isNormal = exponent >= minimumExponent
        if !isNormal { shift += minimumExponent - exponent }
        if shift > 31 { return sign }  // far below the smallest subnormal: rounds to zero
        let s = UInt32(shift)
        var quotient = significand >> s
        let remainder = significand & ((1 << s) - 1)
        let half: UInt32 = 1 << (s - 1)
        if remainder > half || (remainder == half && (quotient & 1) == 1) { quotient += 1 }
        var encoded: UInt32
        if isNormal {
            // `quotient` carries the implicit bit, so a mantissa overflow carries into the
            // exponent on its own.
            let biased = UInt32(exponent + format.bias)
            encoded = ((biased - 1) << format.mantissaBits) &+ quotient
        } else {
            encoded = quotient
        }
        if encoded > format.maxFinite {
            encoded = format.finiteOnly ? nanPattern : format.exponentMask
        }
        return sign | encoded
    }

    @inlinable
    static func decode(_ pattern: UInt32, as format: Minifloat) -> Float {
        let sign = ((pattern >> format.signShift) & 1) << 31
        let exponentField = (pattern & format.exponentMask) >> format.mantissaBits
        let mantissa = pattern & format.mantissaMask
        let allOnes = format.exponentMask >> format.mantissaBits
        if format.finiteOnly {
            if exponentField == allOnes && mantissa == format.mantissaMask {
                return Float(bitPattern: sign | 0x7FC0_0000)
            }
        } else if exponentField == allOnes {
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << (23 - format.mantissaBits)))
        }
        if exponentField == 0 {
            // Subnormal (or zero): mantissa * 2^(1 - bias - mantissaBits), exact in Float.
            let magnitude =
                Float(mantissa)
                * Float(sign: .plus, exponent: Int(1 - format.bias - Int32(format.mantissaBits)), significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        let exponent = UInt32(Int32(exponentField) - format.bias + 127)
        return Float(bitPattern: sign | (exponent << 23) | (mantissa << (23 - format.mantissaBits)))
    }

    // MARK: Public scalar conversions

    /// f32 -> IEEE binary16 bits, round to nearest even. The hot path of `--dtype f16`:
    /// same results as `encode(_:as: .f16)` (checked in tests), a few predictable branches.
    @inlinable
    public static func f16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude >= 0x4780_0000 {  // >= 65536 (rounds to infinity), infinity or NaN
            return magnitude > 0x7F80_0000 ? UInt16(truncatingIfNeeded: encode(value, as: .f16)) : sign | 0x7C00
        }
        if magnitude < 0x3880_0000 {  // below 2^-14: f16 subnormal or zero
            // Adding 0.5 makes the hardware round the value to a multiple of 2^-24 (the f16
            // subnormal step), nearest even; the low mantissa bits are then the f16 pattern.
            let shifted = Float(bitPattern: magnitude) + 0.5
            return sign | UInt16(truncatingIfNeeded: shifted.bitPattern - 0x3F00_0000)
        }
        // Normal: rebias the exponent, then round the 13 dropped bits to nearest even. A
        // carry out of the mantissa moves into the exponent (up to infinity) by itself.
        let odd = (magnitude >> 13) & 1
        let rounded = magnitude &- 0x3800_0000 &+ 0xFFF &+ odd
        return sign | UInt16(truncatingIfNeeded: rounded >> 13)
    }
    /// IEEE binary16 bits -> f32, exact.
    @inlinable public static func float(fromF16 bits: UInt16) -> Float { decode(UInt32(bits), as: .f16) }

    /// f32 -> bfloat16 bits, round to nearest even.
    @inlinable
    public static func bf16(from value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 {
            let truncated = UInt16(truncatingIfNeeded: bits >> 16)
            return truncated & 0x7F == 0 ? truncated | 0x40 : truncated
        }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }
    /// bfloat16 bits -> f32, exact.
    @inlinable public static func float(fromBF16 bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// f32 -> float8 E4M3FN bits, round to nearest even; overflow and infinity become NaN.
    @inlinable public static func f8E4M3(from value: Float) -> UInt8 {
        UInt8(truncatingIfNeeded: encode(value, as: .e4m3fn))
    }
    /// float8 E4M3FN bits -> f32, exact.
    @inlinable public static func float(fromF8E4M3 bits: UInt8) -> Float { decode(UInt32(bits), as: .e4m3fn) }

    /// f32 -> float8 E5M2 bits, round to nearest even.
    @inlinable public static func f8E5M2(from value: Float) -> UInt8 {
        UInt8(truncatingIfNeeded: encode(value, as: .e5m2))
    }
    /// float8 E5M2 bits -> f32, exact.
    @inlinable public static func float(fromF8E5M2 bits: UInt8) -> Float { decode(UInt32(bits), as: .e5m2) }

    /// f64 NaN -> a narrow format's NaN, keeping sign and leading payload bits directly (going
    /// through `Float` would quiet the NaN first; numpy does not).
    @inlinable
    static func encodeNaN(_ value: Double, as format: Minifloat) -> UInt32 {
        let bits = value.bitPattern
        let sign = UInt32(bits >> 63) << format.signShift
        let nanPattern = format.exponentMask | format.mantissaMask
        if format.finiteOnly { return sign | nanPattern }
        var payload = UInt32(truncatingIfNeeded: (bits & 0xF_FFFF_FFFF_FFFF) >> (52 - UInt64(format.mantissaBits)))
        if payload == 0 { payload = format.emptyNaNPayload }
        return sign | format.exponentMask | payload
    }

    /// f64 -> f32 rounding toward zero with a sticky lowest bit ("round to odd"). Rounding
    /// that result to any format of at most 22 mantissa bits equals rounding the f64 directly,
    /// so f64 -> f16/bf16/f8 never double-rounds.
    @inlinable
    public static func roundToOdd(_ value: Double) -> Float {
        if !value.isFinite { return Float(value) }
        var narrowed = Float(value)
        if Double(narrowed) == value { return narrowed }
        if narrowed.isInfinite || abs(Double(narrowed)) > abs(value) {
            narrowed = Float(bitPattern: narrowed.bitPattern - 1)  // one step toward zero
        }
        return Float(bitPattern: narrowed.bitPattern | 1)
    }
}
