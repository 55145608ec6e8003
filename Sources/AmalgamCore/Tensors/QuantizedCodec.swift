import Synchronization

/// A codec for a block-quantised encoding (GGUF's Q4_0, Q6_K, IQ4_NL...), contributed by
/// the plugin that reads it. Elements are grouped along the innermost (fastest) axis into
/// blocks of `blockElements` values stored in `blockBytes` bytes.
///
/// Conforming types must be stateless or immutable: one codec is shared by every thread.
public protocol QuantizedCodec: Sendable {
    /// The encoding's name as its format spells it, e.g. `Q4_K`. Unique among codecs.
    var name: String { get }
    var blockElements: Int { get }
    var blockBytes: Int { get }
    /// Decodes whole blocks: `blocks.count / blockBytes` blocks into as many times
    /// `blockElements` floats. Must not read or write outside the two buffers.
    func decode(_ blocks: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>) throws
    /// True when `encode` is implemented.
    var canEncode: Bool { get }
    /// Encodes `values.count / blockElements` blocks. Only called when `canEncode`.
    func encode(_ values: UnsafeBufferPointer<Float>, into blocks: UnsafeMutableRawBufferPointer) throws
    /// The expected sum of squared rounding errors `Σ e²` the blocks carry, from the scales
    /// they store: an element rounded to a lattice of step `Δ` errs by about `Δ²/12` on
    /// average (uniform rounding). Nil for encodings without a known step (the default).
    func roundingErrorEnergy(_ blocks: UnsafeRawBufferPointer) -> Double?
}

extension QuantizedCodec {
    public func roundingErrorEnergy(_ blocks: UnsafeRawBufferPointer) -> Double? { nil }

    public var canEncode: Bool { false }
    public func encode(_ values: UnsafeBufferPointer<Float>, into blocks: UnsafeMutableRawBufferPointer) throws {
        throw AmalgamError(.unsupported, "encoding to \(name) is not supported")
    }
}
