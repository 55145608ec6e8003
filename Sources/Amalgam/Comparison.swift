import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// When two values agree: `|a - b| <= absolute + relative * |b|` (numpy's `allclose` rule,
/// B the reference) for every element, and, when `relativeFrobenius` is set, the tensor's
/// relative Frobenius error at most that. NaN agrees with NaN, an infinity with the same one.
public struct Tolerance: Sendable, Equatable, CustomStringConvertible {
    public var absolute: Double
    public var relative: Double
    /// A bound on ‖A − B‖_F / ‖B‖_F for the whole tensor (quantised encodings, whose
    /// per-element error depends on each block's scale).
    public var relativeFrobenius: Double?

    public init(absolute: Double = 0, relative: Double = 0, relativeFrobenius: Double? = nil) {
        self.absolute = absolute
        self.relative = relative
        self.relativeFrobenius = relativeFrobenius
    }

    public static let exact = Tolerance()

    /// The rounding a value of B incurs when stored in `encoding`: exact for a dtype at least
    /// as wide, half an ulp (and half the smallest subnormal) for narrower floats, and for
    /// quantised blocks a bound on the relative Frobenius error of the type (generous: it
    /// catches a wrong layout, not a worse rounding).
    public static func storing(_ source: TensorEncoding, as encoding: TensorEncoding) -> Tolerance {
        switch encoding {
        case .quantized(let quantized):
            let bits = Double(quantized.codec.blockBytes * 8) / Double(quantized.codec.blockElements)
            // About 2^-(bits-1) of the signal for a b-bit quantiser, doubled for margin.
            return Tolerance(absolute: .infinity, relative: 0, relativeFrobenius: min(1, 2 * exp2(-(bits - 1.5))))
        case .plain(let dtype):
            if source == encoding { return .exact }
            switch dtype {
            case .f16: return Tolerance(absolute: exp2(-25), relative: exp2(-11))
            case .bf16: return Tolerance(absolute: exp2(-134), relative: exp2(-8))
            case .f32:
                if case .plain(let from) = source, from == .f64 {
                    return Tolerance(absolute: exp2(-150), relative: exp2(-24))
                }
                return .exact
            default: return .exact
            }
        }
    }

    public var description: String {
        var text = "atol \(absolute), rtol \(relative)"
        if let relativeFrobenius { text = "relative Frobenius error <= \(relativeFrobenius)" }
        return text
    }
}

/// How one tensor of A compares with the tensor of the same name in B.
public struct TensorComparison: Sendable {
    public var name: String
    public var encodingA: String
    public var encodingB: String
    /// Largest |a - b| (infinite when one side is non-finite where the other is not).
    public var maximumAbsoluteError: Double
    /// ‖A − B‖_F / ‖B‖_F (0 when both are zero, infinite when only B is).
    public var relativeFrobeniusError: Double
    /// ⟨A, B⟩ / (‖A‖ ‖B‖) (1 when both are zero, 0 when one is).
    public var cosineSimilarity: Double
    /// Elements outside the element-wise tolerance.
    public var elementsOutside: Int
    public var tolerance: Tolerance
    /// True when the tensor agrees within `tolerance`.
    public var agrees: Bool {
        elementsOutside == 0 && (tolerance.relativeFrobenius.map { relativeFrobeniusError <= $0 } ?? true)
    }
}

/// Two models compared through the layer graph: names are canonical whatever the formats,
/// quantised tensors are decoded, and every common tensor of one shape is compared block
/// by block (64 Ki values at a time, several tensors at once), never whole.
public struct ModelComparison: Sendable {
    public var onlyInA: [String] = []
    public var onlyInB: [String] = []
    public var shapeDifferences: [(name: String, a: Shape, b: Shape)] = []
    /// Tensors of one name and shape, in A's order.
    public var tensors: [TensorComparison] = []
    /// Tensors that could not be compared (complex values, unreadable bytes).
    public var failures: [AmalgamError] = []

    /// True when both hold the same tensors, of the same shapes, agreeing within tolerance.
    public var agrees: Bool {
        onlyInA.isEmpty && onlyInB.isEmpty && shapeDifferences.isEmpty && failures.isEmpty
            && tensors.allSatisfy(\.agrees)
    }

    /// Compares `a` with `b` (the reference), each tensor under `tolerance(a's tensor, b's tensor)`.
    public init(
        _ a: ModelGraph, _ b: ModelGraph, parallelism: Parallelism = .current,
        tolerance: (Tensor, Tensor) -> Tolerance
    ) {
        let namesB = Dictionary(b.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let namesA = Set(a.tensors.map(\.name))
        onlyInB = b.tensors.map(\.name).filter { !namesA.contains($0) }
        var pairs: [(Tensor, Tensor, Tolerance)] = []
        for tensor in a.tensors {
            guard let other = namesB[tensor.name] else {
                onlyInA.append(tensor.name)
                continue
            }
            guard tensor.shape == other.shape else {
                shapeDifferences.append((tensor.name, tensor.shape, other.shape))
                continue
            }
            pairs.append((tensor, other, tolerance(tensor, other)))
        }
        let work = pairs
        let results = Mutex([Result<TensorComparison, AmalgamError>?](repeating: nil, count: work.count))
        parallelism.forEach(work.count) { index in
            let (x, y, rule) = work[index]
            defer {
                x.storage.mappedRegion?.releaseResidentPages()
                y.storage.mappedRegion?.releaseResidentPages()
            }
            let result = Result { () throws(AmalgamError) in try Self.compare(x, y, rule) }
            results.withLock { $0[index] = result }
        }
        for result in results.withLock({ $0 }) {
            switch result {
            case .success(let comparison)?: tensors.append(comparison)
            case .failure(let error)?: failures.append(error)
            case nil: break
            }
        }
    }

    /// Values a block decodes at once.
    static let blockElements = 65_536

    private static func compare(_ a: Tensor, _ b: Tensor, _ tolerance: Tolerance) throws(AmalgamError)
        -> TensorComparison
    {
        let bytesA: ByteRegion
        let bytesB: ByteRegion
        do {
            bytesA = try a.loadBytes()
            bytesB = try b.loadBytes()
        } catch {
            throw AmalgamError.attributed(error, tensor: a.name)
        }
        var readerA = try BlockDecoder(a, bytesA)
        var readerB = try BlockDecoder(b, bytesB)
        var maximum = 0.0
        var differenceSquares = 0.0
        var squaresA = 0.0
        var squaresB = 0.0
        var products = 0.0
        var outside = 0
        var valuesA = [Double](repeating: 0, count: blockElements)
        var valuesB = [Double](repeating: 0, count: blockElements)
        var start = 0
        let count = a.shape.elementCount
        while start < count {
            let length = min(blockElements, count - start)
            try readerA.decode(start, length, into: &valuesA)
            try readerB.decode(start, length, into: &valuesB)
            for i in 0..<length {
                let x = valuesA[i]
                let y = valuesB[i]
                if x.isFinite && y.isFinite {
                    let difference = abs(x - y)
                    maximum = max(maximum, difference)
                    differenceSquares += difference * difference
                    squaresA += x * x
                    squaresB += y * y
                    products += x * y
                    if difference > tolerance.absolute + tolerance.relative * abs(y) { outside += 1 }
                } else if !(x == y || (x.isNaN && y.isNaN)) {
                    maximum = .infinity
                    differenceSquares = .infinity
                    outside += 1
                }
            }
            start += length
        }
        let norms = (squaresA * squaresB).squareRoot()
        return TensorComparison(
            name: a.name, encodingA: a.encoding.description, encodingB: b.encoding.description,
            maximumAbsoluteError: maximum,
            relativeFrobeniusError: squaresB > 0
                ? (differenceSquares / squaresB).squareRoot() : (differenceSquares == 0 ? 0 : .infinity),
            cosineSimilarity: norms > 0 ? products / norms : (squaresA == 0 && squaresB == 0 ? 1 : 0),
            elementsOutside: outside, tolerance: tolerance)
    }

    /// One model's report entry for JSON: sizes of each list and every tensor's figures.
    public var json: JSONValue {
        func number(_ value: Double) -> JSONValue { JSONValue(MetadataValue.f64(value)) }
        return .object([
            ("agrees", .bool(agrees)),
            ("only_in_a", .array(onlyInA.map { .string($0) })),
            ("only_in_b", .array(onlyInB.map { .string($0) })),
            (
                "shape_differences",
                .array(
                    shapeDifferences.map {
                        .object([
                            ("name", .string($0.name)), ("a", .array($0.a.dimensions.map { .integer($0) })),
                            ("b", .array($0.b.dimensions.map { .integer($0) })),
                        ])
                    })
            ),
            ("failures", .array(failures.map { .string($0.description) })),
            (
                "tensors",
                .array(
                    tensors.map {
                        .object([
                            ("name", .string($0.name)), ("encoding_a", .string($0.encodingA)),
                            ("encoding_b", .string($0.encodingB)),
                            ("max_abs_error", number($0.maximumAbsoluteError)),
                            ("relative_frobenius_error", number($0.relativeFrobeniusError)),
                            ("cosine_similarity", number($0.cosineSimilarity)),
                            ("elements_outside", .integer($0.elementsOutside)), ("agrees", .bool($0.agrees)),
                        ])
                    })
            ),
        ])
    }

    /// One line on what disagrees (for an error message), or nil when everything agrees.
    public var disagreement: String? {
        var parts: [String] = []
        if !onlyInA.isEmpty {
            parts.append("\(onlyInA.count) tensor\(onlyInA.count == 1 ? "" : "s") only in A ('\(onlyInA[0])'...)")
        }
        if !onlyInB.isEmpty {
            parts.append("\(onlyInB.count) tensor\(onlyInB.count == 1 ? "" : "s") only in B ('\(onlyInB[0])'...)")
        }
        if let first = shapeDifferences.first {
            parts.append("\(shapeDifferences.count) of different shape ('\(first.name)': \(first.a) vs \(first.b))")
        }
        if let first = failures.first { parts.append("\(failures.count) not compared (\(first))") }
        let outside = tensors.filter { !$0.agrees }
        if let worst = outside.max(by: { $0.relativeFrobeniusError < $1.relativeFrobeniusError }) {
            parts.append(
                "\(outside.count) tensor\(outside.count == 1 ? "" : "s") outside the tolerance (worst '\(worst.name)': max abs error \(worst.maximumAbsoluteError), relative Frobenius error \(worst.relativeFrobeniusError), \(worst.elementsOutside) elements outside \(worst.tolerance))"
            )
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }
}

/// Decodes ranges of a tensor's values to f64: plain dtypes exactly, quantised ones block by
/// block through their codec.
private struct BlockDecoder {
    let bytes: ByteRegion
    let encoding: TensorEncoding
    var scratch: [Float] = []

    init(_ tensor: Tensor, _ bytes: ByteRegion) throws(AmalgamError) {
        self.bytes = bytes
        self.encoding = tensor.encoding
        if case .plain(let dtype) = encoding, dtype.isComplex {
            throw AmalgamError(
                .unsupported, "holds complex (\(dtype.rawValue)) values; diff compares real numbers",
                tensor: tensor.name)
        }
    }

    /// Values `start..<start + length` into the front of `values`. `start` is a multiple of
    /// 65,536, so of every block size.
    mutating func decode(_ start: Int, _ length: Int, into values: inout [Double]) throws(AmalgamError) {
        switch encoding {
        case .plain(let dtype):
            bytes.withUnsafeBytes { raw in
                let base = raw.baseAddress!
                switch dtype {
                case .f32:
                    for i in 0..<length {
                        values[i] = Double(
                            Float(bitPattern: raw.loadUnaligned(fromByteOffset: (start + i) * 4, as: UInt32.self)))
                    }
                default:
                    for i in 0..<length { values[i] = ElementConversion.loadDouble(base, as: dtype, at: start + i) }
                }
            }
        case .quantized(let quantized):
            let codec = quantized.codec
            let first = start / codec.blockElements
            let blocks = (length + codec.blockElements - 1) / codec.blockElements
            if scratch.count < blocks * codec.blockElements {
                scratch = [Float](repeating: 0, count: blocks * codec.blockElements)
            }
            let slice = bytes.slice(offset: first * codec.blockBytes, count: blocks * codec.blockBytes)
            var failure: AmalgamError?
            slice.withUnsafeBytes { raw in
                scratch.withUnsafeMutableBufferPointer { target in
                    do {
                        try codec.decode(
                            raw, into: UnsafeMutableBufferPointer(rebasing: target[0..<(blocks * codec.blockElements)]))
                    } catch {
                        failure = AmalgamError.attributed(error)
                    }
                }
            }
            if let failure { throw failure }
            for i in 0..<length { values[i] = Double(scratch[i]) }
        }
    }
}
