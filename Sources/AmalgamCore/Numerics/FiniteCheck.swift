/// Where a float array holds NaN or an infinity, found 16 lanes at a time: `x · 0` is 0 for
/// every finite `x` and NaN otherwise, so a block whose lane sums are not all zero holds one.
public enum FiniteCheck {
    /// The first index of a non-finite value, or nil when all are finite.
    public static func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
        let block = 4096
        var start = 0
        let raw = UnsafeRawPointer(values.baseAddress)
        while start < values.count {
            let end = min(values.count, start + block)
            var lanes = SIMD16<Float>()
            var i = start
            if let raw {
                while i + 16 <= end {
                    lanes += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * 0
                    i += 16
                }
            }
            var clean = lanes == SIMD16<Float>()
            while i < end, clean {
                clean = values[i].isFinite
                i += 1
            }
            if !clean { return (start..<end).first { !values[$0].isFinite } }
            start = end
        }
        return nil
    }

    public static func firstNonFinite(_ values: [Float]) -> Int? {
        values.withUnsafeBufferPointer { firstNonFinite($0) }
    }
}
