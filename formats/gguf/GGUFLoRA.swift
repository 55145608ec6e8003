import AmalgamCore

/// llama.cpp's LoRA adapter GGUF (what `convert_lora_to_gguf.py` writes and `llama-cli --lora`
/// reads): `general.type = adapter`, `adapter.type = lora`, `adapter.lora.alpha` (f32), and per
/// target `<gguf name>.lora_a` (ne `[n, r]`) and `.lora_b` (ne `[r, m]`), in the target's GGUF
/// orientation (so Q and K's `B` rows carry the rotary permutation). llama.cpp scales each
/// pair by `alpha / r` (by 1 when alpha is 0).
public enum GGUFLoRA {
    /// True when `path` is a GGUF file whose `general.type` is `adapter`.
    public static func isAdapter(_ path: String) -> Bool {
        guard !FileSystem.isFolder(path), SystemCall.readPrefix(of: path, count: 4).starts(with: GGUFFile.magic),
            let file = try? GGUFFile(path: path)
        else { return false }
        return file.metadata["general.type"]?.stringValue == "adapter"
    }

    /// The adapter in the canonical names of `base` (whose head counts undo the rotary
    /// permutation of Q and K). Errors name the file and tensor.
    public static func read(_ path: String, base: ModelGraph) throws -> LoRAAdapter {
        let file = try GGUFFile(path: path)
        return try AmalgamError.withContext(file: path) {
            let kind = file.metadata["adapter.type"]?.stringValue ?? ""
            guard kind == "lora" else {
                throw AmalgamError(.unsupported, "adapter.type is '\(kind)': Amalgam reads LoRA adapters only")
            }
            let architecture = file.metadata["general.architecture"]?.stringValue
            guard let naming = GGUFNaming.forArchitecture(architecture) else {
                throw AmalgamError(
                    .unsupported,
                    "general.architecture '\(architecture ?? "")' has no name table in Amalgam: its tensors cannot be matched to the base's"
                )
            }
            var alpha: Float = 0
            if let value = file.metadata["adapter.lora.alpha"] {
                switch value {
                case .f32(let number) where number.isFinite: alpha = number
                case .f64(let number) where number.isFinite: alpha = Float(number)
                default:
                    guard let number = value.intValue else {
                        throw AmalgamError(.invalidFormat, "adapter.lora.alpha is \(value), not a finite number")
                    }
                    alpha = Float(number)
                }
            }
            let (heads, kvHeads) = GGUFWriter(graph: base, options: GGUFWriterOptions()).headCounts(
                architecture: architecture!)
            var halves: [String: (a: GGUFTensorInfo?, b: GGUFTensorInfo?)] = [:]
            var order: [String] = []
            for info in file.tensors {
                let isA = info.name.hasSuffix(".lora_a")
                guard isA || info.name.hasSuffix(".lora_b") else {
                    // llama.cpp skips norm vectors in adapters; so does Amalgam, saying so.
                    if info.name.hasSuffix("_norm.weight") { continue }
                    throw AmalgamError(.invalidFormat, "is neither a .lora_a nor a .lora_b tensor", tensor: info.name)
                }
                let target = String(info.name.dropLast(7))
                if halves[target] == nil {
                    halves[target] = (nil, nil)
                    order.append(target)
                }
                if isA { halves[target]!.a = info } else { halves[target]!.b = info }
            }
            var updates: [LoRAAdapter.Update] = []
            for target in order {
                guard let a = halves[target]!.a, let b = halves[target]!.b else {
                    throw AmalgamError(
                        .invalidFormat,
                        "has .lora_\(halves[target]!.a == nil ? "b" : "a") but no .lora_\(halves[target]!.a == nil ? "a" : "b")",
                        tensor: target)
                }
                guard a.ne.count == 2, b.ne.count == 2, a.ne[1] == b.ne[0] else {
                    throw AmalgamError(
                        .invalidFormat, "lora_a has ne \(a.ne) and lora_b \(b.ne): not a rank-r pair", tensor: target)
                }
                guard !target.hasPrefix("token_embd") else {
                    throw AmalgamError(.unsupported, "LoRA on token embeddings is not supported", tensor: target)
                }
                guard let canonical = naming.huggingFaceName(forGGUF: target), base[canonical] != nil else {
                    throw AmalgamError(.mismatch, "targets a tensor the base does not have", tensor: target)
                }
                let transform = try AmalgamError.withContext(tensor: target) {
                    try naming.transform(forGGUF: target, heads: heads, kvHeads: kvHeads)
                }
                let rank = a.ne[1]
                let aTensor = Tensor(
                    name: a.name, shape: a.shape, encoding: a.type.encoding, storage: .region(file.region(of: a)))
                var bTensor = Tensor(
                    name: b.name, shape: b.shape, encoding: b.type.encoding, storage: .region(file.region(of: b)))
                var transposed = false
                switch transform {
                case .none: break
                case .rotaryPermutation(let count):
                    // The permutation acts on the target's rows, which are B's rows.
                    let region = file.region(of: b)
                    let rows = b.shape.dimensions[0]
                    _ = try AmalgamError.withContext(tensor: b.name) {
                        try TensorTransforms.rotarySourceRows(rows: rows, heads: count, toGGUF: false)
                    }
                    bTensor.storage = .deferred {
                        try TensorTransforms.permutingRows(region, rows: rows, heads: count, toGGUF: false)
                    }
                case .transpose: transposed = true
                case .addOne:
                    throw AmalgamError(.unsupported, "a LoRA update of a norm vector is not supported", tensor: target)
                }
                let update = LoRAAdapter.Update(
                    target: canonical, b: bTensor, a: aTensor, scale: alpha == 0 ? 1 : alpha / Float(rank),
                    transposed: transposed)
                guard update.targetShape == base[canonical]!.shape else {
                    throw AmalgamError(
                        .mismatch, "B A is \(update.targetShape), the base's tensor is \(base[canonical]!.shape)",
                        tensor: target)
                }
                updates.append(update)
            }
            return LoRAAdapter(updates: updates, replacements: [], format: "gguf-lora")
        }
    }

    /// One update to write: `B A` (m x r times r x n, f32 row-major) for canonical `target`.
    public struct Pair: Sendable {
        public var target: String
        public var b: [Float]
        public var a: [Float]
        public var rank: Int

        public init(target: String, b: [Float], a: [Float], rank: Int) {
            self.target = target
            self.b = b
            self.a = a
            self.rank = rank
        }
    }

    /// Writes `pairs` (updates of `base`'s matrices) as an adapter GGUF for `base`'s
    /// architecture. `adapter.lora.alpha` is the largest rank R and each `B` is scaled by
    /// `r / R`, so llama.cpp's `alpha / r` gives every pair its update at scale 1.
    public static func write(
        _ pairs: [Pair], base: ModelGraph, architecture explicit: String?, to path: String, into outputs: OutputSet
    ) throws {
        let writer = GGUFWriter(graph: base, options: GGUFWriterOptions(architecture: explicit))
        let (architecture, _) = writer.resolvedArchitecture()
        guard let naming = GGUFNaming.forArchitecture(architecture) else {
            throw AmalgamError(
                .unsupported,
                "a GGUF adapter needs the base's llama.cpp architecture; '\(architecture)' has no name table in Amalgam (--arch NAME sets it)",
                file: path)
        }
        let (heads, kvHeads) = writer.headCounts(architecture: architecture)
        let alpha = pairs.map(\.rank).max() ?? 0
        var tensors: [Tensor] = []
        var planned: [GGUFWriter.Planned] = []
        for pair in pairs {
            guard let baseTensor = base[pair.target], baseTensor.shape.rank == 2 else {
                throw AmalgamError(.internal, "no matrix in the base", tensor: pair.target)
            }
            let (m, n) = (baseTensor.shape.dimensions[0], baseTensor.shape.dimensions[1])
            let (name, transform, _) = try AmalgamError.withContext(file: path, tensor: pair.target) {
                try writer.ggufNameAndShape(baseTensor, naming: naming, heads: heads, kvHeads: kvHeads)
            }
            let fold = Float(pair.rank) / Float(max(alpha, 1))
            var b = pair.b.map { $0 * fold }  // m x r
            var a = pair.a  // r x n
            var rows = m
            var columns = n
            switch transform {
            case .none: break
            case .rotaryPermutation(let count):
                let region = b.withUnsafeBytes { ByteRegion(copying: $0) }
                let permuted = try TensorTransforms.permutingRows(region, rows: m, heads: count, toGGUF: true)
                b = permuted.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            case .transpose:
                // The GGUF matrix is the canonical one transposed: (B A)ᵀ = Aᵀ Bᵀ.
                (b, a) = (
                    transposeRowMajor(a, rows: pair.rank, columns: n), transposeRowMajor(b, rows: m, columns: pair.rank)
                )
                (rows, columns) = (n, m)
            case .addOne:
                throw AmalgamError(
                    .unsupported, "a LoRA update of a norm vector cannot be written", tensor: pair.target)
            }
            for (suffix, values, shape) in [
                ("lora_a", a, Shape([pair.rank, columns])), ("lora_b", b, Shape([rows, pair.rank])),
            ] {
                let tensor = Tensor(name: "\(name).\(suffix)", shape: shape, floats: values)
                planned.append(
                    GGUFWriter.Planned(
                        index: tensors.count, tensor: tensor, name: tensor.name, shape: shape, type: .f32,
                        transform: .none, byteCount: shape.elementCount * 4))
                tensors.append(tensor)
            }
        }
        var metadata = Metadata()
        metadata["general.architecture"] = .string(architecture)
        metadata["general.type"] = .string("adapter")
        metadata["adapter.type"] = .string("lora")
        metadata["adapter.lora.alpha"] = .f32(Float(alpha))
        metadata["general.alignment"] = .u32(UInt32(GGUFFile.defaultAlignment))
        var header = GGUFHeaderEncoder()
        try AmalgamError.withContext(file: path) {
            try header.encodeHeader(metadata: metadata, tensors: planned, alignment: GGUFFile.defaultAlignment)
        }
        let graph = try ModelGraph(tensors: tensors, metadata: metadata)
        let plan = GGUFWritePlan(
            path: path, header: header.bytes, tensors: planned, alignment: GGUFFile.defaultAlignment, warnings: [])
        try plan.write(graph, into: outputs, progress: SilentProgress())
    }

    static func transposeRowMajor(_ values: [Float], rows: Int, columns: Int) -> [Float] {
        var result = [Float](repeating: 0, count: values.count)
        for i in 0..<rows {
            for j in 0..<columns { result[j * rows + i] = values[i * columns + j] }
        }
        return result
    }
}
