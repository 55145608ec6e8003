import AmalgamCore

/// One array written as a `.npy` file.
struct NPYWritePlan: WritePlan {
    let path: String
    let tensorBytes: Int
    let warnings: [String]
    var targets: [String] { [path] }
    var loadOrder: [Int] { [0] }

    func write(_ graph: ModelGraph, into outputs: OutputSet, progress: any ProgressReporter) throws {
        let tensor = graph.tensors[0]
        let file = try outputs.create(path)
        try AmalgamError.withContext(file: path, tensor: tensor.name) {
            let array = try NPYArray.encode(tensor, transposeBack: false, keepDType: false)
            try file.write(
                NPYHeader.serialize(descr: array.descr, shape: array.shape, fortranOrder: array.fortranOrder))
            try array.forEachBlock { bytes in
                try file.write(bytes)
                progress.advance(by: Int64(bytes.count))
            }
        }
    }
}
