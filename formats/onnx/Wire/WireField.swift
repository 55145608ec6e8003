import AmalgamCore

/// One field as it sits in the bytes: its number, wire type, where the whole field starts
/// and, for length-delimited fields, where its payload is.
struct WireField {
    var number: UInt64
    var type: WireType
    /// Offset of the field's key.
    var start: Int
    /// The payload: the varint or fixed bytes, or a length-delimited field's contents.
    var payload: Range<Int>
    /// Offset just past the field.
    var end: Int { payload.upperBound }
}
