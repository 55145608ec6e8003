import AmalgamCore

/// Quantises f32 values into ggml blocks, in parallel over chunks of blocks.
enum GGUFQuantizer {
    /// Block types Amalgam can encode. (F32, F16 and BF16 are plain dtypes, converted by the core.)
    static let encodable: Set<GGMLType> = [
        .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS,
    ]

    /// Encodes `values.count / blockElements` blocks of `type` into `blocks`; with
    /// `importance`, row by row with llama.cpp's weighted encoders (Q8_0 has none and ignores
    /// it), the rows of each expert weighted by its slice. `values` may be rows `firstRow...` of
    /// a tensor of `totalRows` rows (default: the whole tensor), which decides each row's expert.
    /// Throws for types it cannot encode and for NaN or infinite values, which no block
    /// scale can represent (ggml would write meaningless blocks).
    static func encode(
        _ values: UnsafeBufferPointer<Float>, as type: GGMLType, into blocks: UnsafeMutableRawBufferPointer,
        importance: ImportanceWeights? = nil, firstRow: Int = 0, totalRows: Int? = nil
    ) throws {
        guard encodable.contains(type) else {
            throw AmalgamError(
                .unsupported,
                "encoding to \(type.name) is not supported; use one of \(encodable.map(\.name).sorted().joined(separator: ", "))"
            )
        }
        let (elements, bytes) = type.blockLayout
        let count = values.count / elements
        precondition(values.count == count * elements && blocks.count >= count * bytes)
        if let bad = firstNonFinite(values) {
            throw AmalgamError(
                .unsupported, "element \(bad) is \(values[bad]); \(type.name) blocks cannot hold NaN or infinity")
        }
        guard count > 0 else { return }
        if let importance, type != .q8_0 {
            encodeWeighted(
                values, as: type, into: blocks, importance: importance, firstRow: firstRow,
                totalRows: totalRows ?? values.count / importance.rowLength)
            return
        }
        nonisolated(unsafe) let input = values.baseAddress!
        nonisolated(unsafe) let output = blocks.baseAddress!
        // Chunks of about 64 Ki values: big enough to amortise dispatch, small enough to balance.
        let perChunk = max(1, 65_536 / elements)
        let chunks = (count + perChunk - 1) / perChunk
        let work: @Sendable (Int) -> Void = { chunk in
            let first = chunk * perChunk
            let n = min(perChunk, count - first)
            let x = input + first * elements
            let y = output + first * bytes
            switch type {
            case .q8_0: LegacyQuantizer.q8_0(x, y, n)
            case .q4_0: LegacyQuantizer.q4_0(x, y, n)
            case .q4_1: LegacyQuantizer.q4_1(x, y, n)
            case .q5_0: LegacyQuantizer.q5_0(x, y, n)
            case .q5_1: LegacyQuantizer.q5_1(x, y, n)
            case .q2_K: Q2KQuantizer.q2K(x, y, n)
            case .q3_K: Q3KQuantizer.q3K(x, y, n)
            case .q4_K: KQuantizer.q45K(x, y, n, fiveBit: false)
            case .q5_K: KQuantizer.q45K(x, y, n, fiveBit: true)
            case .q6_K: KQuantizer.q6K(x, y, n)
            case .iq4_NL: IQ4Quantizer.iq4NL(x, y, n)
            case .iq4_XS: IQ4Quantizer.iq4XS(x, y, n)
            default: preconditionFailure("checked above")
            }
        }
        if chunks > 1 {
            Parallelism.current.forEach(chunks, work)
        } else {
            work(0)
        }
    }

    /// Whole rows at a time, in parallel over chunks of rows; row r of the tensor's `totalRows`
    /// (`values` holds rows `firstRow...`) takes expert r / (totalRows / experts)'s importance values.
    static func encodeWeighted(
        _ values: UnsafeBufferPointer<Float>, as type: GGMLType, into blocks: UnsafeMutableRawBufferPointer,
        importance: ImportanceWeights, firstRow: Int, totalRows: Int
    ) {
        let rowLength = importance.rowLength
        let (elements, bytes) = type.blockLayout
        precondition(rowLength % elements == 0 && values.count % rowLength == 0)
        let rows = values.count / rowLength
        let rowsPerExpert = max(1, totalRows / importance.experts)
        let rowBytes = rowLength / elements * bytes
        let perChunk = max(1, 65_536 / rowLength)
        let chunks = (rows + perChunk - 1) / perChunk
        nonisolated(unsafe) let input = values.baseAddress!
        nonisolated(unsafe) let output = blocks.baseAddress!
        importance.values.withUnsafeBufferPointer { table in
            nonisolated(unsafe) let weights = table.baseAddress!
            let work: @Sendable (Int) -> Void = { chunk in
                for row in (chunk * perChunk)..<min(rows, (chunk + 1) * perChunk) {
                    let x = input + row * rowLength
                    let y = output + row * rowBytes
                    let qw = weights + min((firstRow + row) / rowsPerExpert, importance.experts - 1) * rowLength
                    let n = rowLength / elements
                    switch type {
                    case .q4_0, .q4_1, .q5_0, .q5_1:
                        LegacyQuantizer.weightedRow(x, y, rowLength: rowLength, as: type, importance: qw)
                    case .q2_K: Q2KQuantizer.q2K(x, y, n, importance: qw)
                    case .q3_K: Q3KQuantizer.q3KWeighted(x, y, n, importance: qw)
                    case .q4_K: KQuantizer.q45KWeighted(x, y, n, fiveBit: false, importance: qw)
                    case .q5_K: KQuantizer.q45KWeighted(x, y, n, fiveBit: true, importance: qw)
                    case .q6_K: KQuantizer.q6K(x, y, n, importance: qw)
                    case .iq4_NL: IQ4Quantizer.iq4NL(x, y, n, importance: qw)
                    case .iq4_XS: IQ4Quantizer.iq4XS(x, y, n, importance: qw)
                    default: preconditionFailure("checked by encode")
                    }
                }
            }
            if chunks > 1 {
                Parallelism.current.forEach(chunks, work)
            } else {
                work(0)
            }
        }
    }

    /// Index of the first NaN or infinity, if any: those have every exponent bit set. (An
    /// integer maximum over the exponent bits vectorises; a float sum would not.)
    static func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
        var exponents: UInt32 = 0
        for value in values { exponents = Swift.max(exponents, value.bitPattern & 0x7F80_0000) }
        guard exponents == 0x7F80_0000 else { return nil }
        return values.firstIndex { !$0.isFinite }
    }
}
