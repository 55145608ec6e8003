import AmalgamCore

/// A safetensors output decided in full: the shard files with their headers and tensor order,
/// the index of a sharded checkpoint, and the companion files (config.json, tokenizer.json)
/// beside them.
struct SafetensorsWritePlan: WritePlan {
    struct ShardFile {
        let path: String
        let header: [UInt8]
        /// Graph tensor indices in data order.
        let order: [Int]
    }

    let shards: [ShardFile]
    let index: (path: String, contents: String)?
    let companionFiles: [(path: String, contents: ByteRegion)]
    let warnings: [String]
    let tensorBytes: Int

    var targets: [String] { shards.map(\.path) + (index.map { [$0.path] } ?? []) }
    var companions: [String] { companionFiles.map(\.path) }
    var loadOrder: [Int] { shards.flatMap(\.order) }

    init(_ graph: ModelGraph, to path: String, options: SafetensorsWriterOptions) throws {
        let planned = try SafetensorsWriter.plan(graph)
        let split = SafetensorsWriter.split(planned, limit: options.maximumShardBytes)
        let paths = SafetensorsPlugin.shardPaths(for: path, count: split.count)
        var warnings: [String] = []
        // The metadata travels in every shard (as transformers' save_pretrained does).
        let metadata = SafetensorsPlugin.storableMetadata(graph, warn: { warnings.append($0) })
        var shards: [ShardFile] = []
        var weightMap: [(tensor: String, shard: String)] = []
        for (shard, target) in zip(split, paths.files) {
            let (header, order) = SafetensorsWriter.header(for: shard, metadata: metadata)
            shards.append(ShardFile(path: target, header: header, order: order.map(\.index)))
            weightMap += shard.tensors.map { (graph.tensors[$0.index].name, FileSystem.baseName(of: target)) }
        }
        let total = planned.reduce(0) { $0 + $1.byteCount }
        self.shards = shards
        self.index = paths.index.map { ($0, ShardIndex.serialize(totalSize: total, weightMap: weightMap)) }
        let folder = FileSystem.folder(of: paths.files[0])
        self.companionFiles = graph.attachments.keys.sorted().map { (folder + "/" + $0, graph.attachments[$0]!) }
        self.warnings = warnings
        self.tensorBytes = total
    }

    func write(_ graph: ModelGraph, into outputs: OutputSet, progress: any ProgressReporter) throws {
        for shard in shards {
            let file = try outputs.create(shard.path)
            try AmalgamError.withContext(file: shard.path) {
                try file.write(shard.header)
                for index in shard.order {
                    let tensor = graph.tensors[index]
                    // Blocks of rows: a computed tensor (a dtype conversion) never exists whole,
                    // and the pages of a mapped one leave the resident set once written.
                    try AmalgamError.withContext(tensor: tensor.name) {
                        try tensor.forEachRowBlock { _, bytes in
                            bytes.adviseSequentialRead()
                            try file.write(bytes)
                            bytes.releaseResidentPages()
                            progress.advance(by: Int64(bytes.count))
                        }
                    }
                }
            }
        }
        if let index { try outputs.create(index.path).write(index.contents) }
        for (path, contents) in companionFiles { try outputs.writeCompanion(contents, to: path) }
    }
}
