import AmalgamCore

/// Codecs are stateless; one per type is shared by every tensor.
enum GGMLCodecs {
    static func codec(for type: GGMLType) -> GGMLCodec { GGMLCodec(type: type) }
}
