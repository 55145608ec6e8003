import Synchronization

/// A quantised encoding, compared by its codec's name.
public struct QuantizedEncoding: Sendable, Hashable {
    public let codec: any QuantizedCodec
    public init(_ codec: any QuantizedCodec) { self.codec = codec }
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.codec.name == rhs.codec.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(codec.name) }
}
