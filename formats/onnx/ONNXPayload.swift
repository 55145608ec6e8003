import AmalgamCore

/// One tensor's bytes in an output model: how many, and how to take them from the graph
/// being written (loaded only while they are written).
struct ONNXPayload {
    var tensorName: String
    var count: Int
    var load: (ModelGraph) throws -> ByteRegion
}
