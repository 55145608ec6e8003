import AmalgamCore

/// One tensor's bytes in an output model: how many, and how to take them from the graph being
/// written, in blocks of rows (a converted or mapped tensor is never whole in memory; a
/// transposed one is).
struct ONNXPayload {
    var tensorName: String
    var count: Int
    /// Hands the payload's bytes to its second argument in order, in one or more blocks.
    var stream: (ModelGraph, (ByteRegion) throws -> Void) throws -> Void

    init(tensorName: String, count: Int, stream: @escaping (ModelGraph, (ByteRegion) throws -> Void) throws -> Void) {
        self.tensorName = tensorName
        self.count = count
        self.stream = stream
    }

    /// A payload whose bytes are already at hand (a template's own tensor).
    init(tensorName: String, region: ByteRegion) {
        self.init(tensorName: tensorName, count: region.count) { _, write in try write(region) }
    }

    /// A graph tensor's bytes, streamed block by block.
    init(tensorName: String, count: Int) {
        self.init(tensorName: tensorName, count: count) { graph, write in
            guard let tensor = graph[tensorName] else {
                throw AmalgamError(.internal, "the graph being written has no such tensor", tensor: tensorName)
            }
            try tensor.forEachRowBlock { _, bytes in try write(bytes) }
        }
    }

    /// Writes the payload to `file`, checking that it holds the planned `count` bytes; the
    /// pages of mapped blocks leave the resident set once written. `advance` gets each block's size.
    func write(from graph: ModelGraph, into file: OutputFile, advance: (Int) -> Void) throws {
        var written = 0
        try AmalgamError.withContext(tensor: tensorName) {
            try stream(graph) { block in
                written += block.count
                guard written <= count else {
                    throw AmalgamError(.internal, "tensor payload holds more than the \(count) bytes planned")
                }
                block.adviseSequentialRead()
                try file.write(block)
                block.releaseResidentPages()
                advance(block.count)
            }
            guard written == count else {
                throw AmalgamError(.internal, "tensor payload holds \(written) bytes, \(count) were planned")
            }
        }
    }
}
