import AmalgamCore

/// An ONNX output decided in full: the model's parts (sizes known, tensors streamed while
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
            try payload.write(from: graph, into: data) { progress.advance(by: Int64($0)) }
        }
    }
}
