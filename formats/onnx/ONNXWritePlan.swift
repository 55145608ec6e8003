import AmalgamCore

/// An ONNX output decided in full: the model's parts (sizes known, tensors loaded while
/// written) and, for external data, the data file's payloads at their aligned offsets.
struct ONNXWritePlan: WritePlan {
    let path: String
    let dataPath: String?
    let parts: [ProtoPart]
    let external: [(offset: Int, payload: ONNXPayload)]
    let warnings: [String]
    let loadOrder: [Int]
    let inputs: [String]
    let tensorBytes: Int

    var targets: [String] { [path] + (dataPath.map { [$0] } ?? []) }

    func write(_ graph: ModelGraph, into outputs: OutputSet, progress: any ProgressReporter) throws {
        let model = try outputs.create(path)
        for part in parts {
            try part.emit(into: model, graph: graph) { progress.advance(by: Int64($0)) }
        }
        guard let dataPath else { return }
        let data = try outputs.create(dataPath)
        for (offset, payload) in external {
            try data.pad(offset - data.position)
            let region = try AmalgamError.withContext(tensor: payload.tensorName) { try payload.load(graph) }
            guard region.count == payload.count else {
                throw AmalgamError(
                    .internal, "tensor payload holds \(region.count) bytes, \(payload.count) were planned",
                    tensor: payload.tensorName)
            }
            region.adviseSequentialRead()
            try data.write(region)
            progress.advance(by: Int64(region.count))
        }
    }
}
