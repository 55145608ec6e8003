/// A graph whose tensors can be produced only once (a merge computes each tensor when a
/// writer loads it) written to a scratch file of an output set and mapped back, so it can be
/// written to several outputs or trained on. The scratch file lives beside `path` and goes
/// when the output set ends; the graph keeps its metadata, hints and attachments.
///
/// Cost: one sequential write of every tensor's bytes; memory stays one tensor at a time.
public enum TensorSpill {
    /// Tensors start at multiples of this (enough for any element type).
    static let alignment = 64

    public static func spill(
        _ graph: ModelGraph, besides path: String, into outputs: OutputSet, order: [Int]? = nil,
        progress: any ProgressReporter = SilentProgress()
    ) throws -> ModelGraph {
        let file = try outputs.scratch(besides: path)
        var offsets = [Int](repeating: 0, count: graph.tensors.count)
        for index in order ?? Array(graph.tensors.indices) {
            let tensor = graph.tensors[index]
            let bytes = try AmalgamError.withContext(tensor: tensor.name) { try tensor.loadBytes() }
            try file.pad((alignment - file.position % alignment) % alignment)
            offsets[index] = file.position
            try file.write(bytes)
            progress.advance(by: Int64(bytes.count))
        }
        let mapped = try file.mapWritten().region
        return try graph.mapTensors { tensor in
            var copy = tensor
            let index = graph.index(of: tensor.name)!
            copy.storage = .region(mapped.slice(offset: offsets[index], count: try tensor.byteCount))
            return copy
        }
    }
}
