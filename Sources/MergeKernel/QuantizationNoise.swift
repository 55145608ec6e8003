import AmalgamCore

/// The rounding noise a quantised source tensor carries. Its task vector is `Δ + E`, where
/// `E` is small per entry but full rank: its singular values form a floor that a ranking by
/// raw singular value cannot tell from knowledge. Estimated from the scales the blocks store
/// (`QuantizedCodec.roundingErrorEnergy`), modelling `E` as i.i.d. with the mean square of
/// uniform rounding on each block's lattice.
public struct QuantizationNoise: Sendable, Equatable {
    /// The encoding's name (`Q8_0`).
    public let encoding: String
    /// Estimated `‖E‖_F²`.
    public let energy: Double
    public let rows: Int
    public let columns: Int

    public init(encoding: String, energy: Double, rows: Int, columns: Int) {
        self.encoding = encoding
        self.energy = energy
        self.rows = rows
        self.columns = columns
    }

    /// The noise of `tensor` viewed as `rows x columns`, nil when it is not quantised or its
    /// encoding has no known step.
    public init?(of tensor: Tensor, rows: Int, columns: Int) throws {
        guard case .quantized = tensor.encoding else { return nil }
        self.init(encoding: tensor.encoding, bytes: try tensor.loadBytes(), rows: rows, columns: columns)
    }

    /// The noise of blocks already loaded, nil as above.
    public init?(encoding: TensorEncoding, bytes: ByteRegion, rows: Int, columns: Int) {
        guard case .quantized(let quantized) = encoding,
            let energy = bytes.withUnsafeBytes({ quantized.codec.roundingErrorEnergy($0) })
        else { return nil }
        self.init(encoding: quantized.codec.name, energy: energy, rows: rows, columns: columns)
    }

    /// `‖E‖_F`.
    public var frobenius: Double { energy.squareRoot() }
    /// The root mean square of one entry's error.
    public var entrySigma: Double { (energy / Double(max(1, rows * columns))).squareRoot() }
    /// The largest singular value i.i.d. noise of this size reaches, `σ (√m + √n)` (the edge
    /// of the Marchenko-Pastur law): components of the task vector below it are noise.
    public var spectralEdge: Double { entrySigma * (Double(rows).squareRoot() + Double(columns).squareRoot()) }
    /// Half the root-mean-square step (`√3 σ`), the largest error of uniform rounding in a
    /// block of typical scale: entries of the task vector smaller than it may be all noise.
    public var entryBound: Double { entrySigma * 3.0.squareRoot() }

    /// The report's entry.
    public var json: JSONValue {
        .object([
            ("encoding", .string(encoding)), ("frobenius", .number("\(frobenius)")),
            ("entry_sigma", .number("\(entrySigma)")), ("spectral_edge", .number("\(spectralEdge)")),
        ])
    }
}

/// Whether and how far components and entries of quantised sources below their noise are
/// dropped (`--noise-floor`).
public enum NoiseFloor: Sendable, Equatable, CustomStringConvertible {
    case off
    /// The floor at `factor` times the noise's edge (1 for `auto`).
    case scaled(Double)

    public static let automatic = NoiseFloor.scaled(1)

    /// `auto`, `off`, or a positive factor.
    public init?(_ text: String) {
        switch text.lowercased() {
        case "auto": self = .automatic
        case "off": self = .off
        default:
            guard let factor = Double(text), factor.isFinite, factor > 0 else { return nil }
            self = .scaled(factor)
        }
    }

    /// Parses `text` as `init?(_:)` does; the usage error names `label` (`--noise-floor`).
    public init(parsing text: String, label: String) throws(AmalgamError) {
        guard let floor = NoiseFloor(text) else {
            throw AmalgamError(.usage, "\(label) must be auto, off or a positive factor, not '\(text)'")
        }
        self = floor
    }

    public var factor: Double? {
        if case .scaled(let factor) = self { return factor }
        return nil
    }

    public var description: String {
        switch self {
        case .off: "off"
        case .scaled(let factor): factor == 1 ? "auto" : "\(factor)"
        }
    }
}
