import AmalgamCore

/// A GGUF output decided in full: the header bytes (metadata and tensor infos), and each
/// tensor's GGUF name, type and transform. `write` streams the tensors after the header.
struct GGUFWritePlan: WritePlan {
    let path: String
    let header: [UInt8]
    let tensors: [GGUFWriter.Planned]
    let alignment: Int
    let warnings: [String]

    var targets: [String] { [path] }
    var loadOrder: [Int] { tensors.map(\.index) }
    var tensorBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    func write(_ graph: ModelGraph, into outputs: OutputSet, progress: any ProgressReporter) throws {
        let file = try outputs.create(path)
        try file.write(header)
        try file.pad(GGUFWriter.padding(header.count, alignment))
        for item in tensors {
            let tensor = graph.tensors[item.index]
            var produced = 0
            try AmalgamError.withContext(file: path, tensor: tensor.name) {
                try GGUFWriter.produce(item, from: tensor) { bytes in
                    try file.write(bytes)
                    produced += bytes.count
                    progress.advance(by: Int64(bytes.count))
                }
            }
            guard produced == item.byteCount else {
                throw AmalgamError(
                    .internal, "produced \(produced) bytes, planned \(item.byteCount)", file: path, tensor: tensor.name)
            }
            try file.pad(GGUFWriter.padding(item.byteCount, alignment))
        }
    }
}
