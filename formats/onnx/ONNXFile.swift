import AmalgamCore

#if canImport(Glibc)
    import Glibc
#endif

/// A parsed ONNX file: the model, and every initializer (sparse ones dense, dequantised
/// ones as f32) and floating-point Constant tensor, subgraphs included, with storage mapped
/// from the file or its external data.
struct ONNXFile {
    let path: String
    let file: MappedFile
    let model: ONNXModel
    let entries: [ONNXEntry]
    let notes: [String]

    init(path: String, staged: [String: String] = [:]) throws {
        let file = try MappedFile(path: path)
        self.path = path
        self.file = file
        let model = try file.region.withUnsafeBytes { (bytes) throws(AmalgamError) in
            try ONNXModel(bytes: bytes, path: path)
        }
        self.model = model
        let external = ExternalDataFiles(modelPath: path, staged: staged)
        var notes: [String] = []

        var entries: [ONNXEntry] = []
        try Self.collect(model.graph, prefix: "", into: &entries, file: file, external: external, path: path)
        let dequantized = try Self.dequantize(model.graph, entries: &entries, path: path)
        if dequantized > 0 {
            notes.append("\(dequantized) quantised weight(s) read as the f32 tensors the graph dequantises them to")
        }
        let recovered: Set<ONNXEntry.Kind> = [.initializer, .dequantized]
        let topLevel = entries.filter { !$0.inSubgraph && recovered.contains($0.kind) }
        let recovery = NameRecovery.recover(
            graph: model.graph, tensors: topLevel.map { ($0.qualifiedName, $0.storedShape.dimensions.count) })
        for index in entries.indices {
            if !entries[index].inSubgraph, recovered.contains(entries[index].kind),
                let recovered = recovery.names[entries[index].qualifiedName]
            {
                entries[index].canonicalName = recovered.canonical
                entries[index].transposed = recovered.transposed
            }
        }
        if recovery.renamedThroughGraph > 0 {
            notes.append(
                "\(recovery.renamedThroughGraph) initializer(s) named after the graph nodes that use them (MatMul weights transposed to [out, in])"
            )
        }
        if let prefix = recovery.removedPrefix {
            notes.append("wrapper prefix '\(prefix)' removed from tensor names")
        }
        if !model.graph.sparseInitializers.isEmpty {
            notes.append("\(model.graph.sparseInitializers.count) sparse initializer(s) read as dense tensors")
        }
        self.entries = entries
        self.notes = notes
    }

    /// Replaces the main graph's dequantisation chains' inputs by the chains' f32 outputs
    /// (see `Dequantization`); returns how many.
    private static func dequantize(_ graph: ONNXGraph, entries: inout [ONNXEntry], path: String) throws -> Int {
        var initializers: [String: ONNXEntry] = [:]
        for entry in entries where !entry.inSubgraph && entry.kind == .initializer {
            initializers[entry.qualifiedName] = entry
        }
        let chains = Dequantization.chains(in: graph, initializers: initializers)
        guard !chains.isEmpty else { return 0 }
        var consumers: [String: Set<String>] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for input in node.inputs where !input.isEmpty {
                consumers[input, default: []].insert(node.label(index: index))
            }
        }
        // An input is absorbed when the chains account for every node that reads it.
        var chainNodes: [String: Set<String>] = [:]
        for chain in chains {
            for input in [chain.quantized, chain.scale, chain.zeroPoint].compactMap({ $0 }) {
                chainNodes[input, default: []].formUnion(chain.nodes)
            }
        }
        let absorbed = Set(chainNodes.filter { consumers[$0.key, default: []].isSubset(of: $0.value) }.keys)
        let taken = Set(entries.map(\.qualifiedName))
        var added: [ONNXEntry] = []
        for chain in chains where !taken.contains(chain.output) {
            added.append(try Dequantization.entry(for: chain, initializers: initializers, path: path))
        }
        entries.removeAll { !$0.inSubgraph && $0.kind == .initializer && absorbed.contains($0.qualifiedName) }
        entries += added
        return added.count
    }

    /// Gathers a graph's initializers, then its Constant nodes' floating-point values, then
    /// its subgraphs' tensors under `<node>.<attribute>.` prefixes.
    private static func collect(
        _ graph: ONNXGraph, prefix: String, into entries: inout [ONNXEntry], file: MappedFile,
        external: ExternalDataFiles, path: String
    ) throws {
        for proto in graph.initializers {
            entries.append(
                try entry(
                    proto, name: prefix + proto.name, kind: .initializer, inSubgraph: !prefix.isEmpty, file: file,
                    external: external, path: path))
        }
        for sparse in graph.sparseInitializers {
            entries.append(
                try sparseEntry(
                    sparse, name: prefix + sparse.values.name, inSubgraph: !prefix.isEmpty, file: file,
                    external: external, path: path))
        }
        for node in graph.nodes {
            guard let constant = node.constant, !constant.name.isEmpty,
                let dtype = try? ONNXDataType.dtype(for: constant.dataType), dtype.isFloatingPoint
            else { continue }
            entries.append(
                try entry(
                    constant, name: prefix + constant.name, kind: .constant, inSubgraph: !prefix.isEmpty, file: file,
                    external: external, path: path))
        }
        for (index, node) in graph.nodes.enumerated() {
            for (attribute, subgraph) in node.subgraphs {
                try collect(
                    subgraph, prefix: prefix + "\(node.label(index: index)).\(attribute).", into: &entries, file: file,
                    external: external, path: path)
            }
        }
    }

    private static func entry(
        _ proto: ONNXTensorProto, name: String, kind: ONNXEntry.Kind, inSubgraph: Bool, file: MappedFile,
        external: ExternalDataFiles, path: String
    ) throws -> ONNXEntry {
        try AmalgamError.withContext(file: path, tensor: name) {
            guard !proto.name.isEmpty else { throw AmalgamError(.invalidFormat, "a tensor has no name") }
            let dtype = try ONNXDataType.dtype(for: proto.dataType)
            guard proto.dims.allSatisfy({ $0 >= 0 }) else {
                throw AmalgamError(.invalidFormat, "negative dimension in \(proto.dims)")
            }
            let shape = try Shape(checking: proto.dims.map { UInt64($0) })
            let fourBit = ONNXDataType.isFourBit(proto.dataType)
            let storedBytes =
                fourBit ? (shape.elementCount + 1) / 2 : try shape.byteCount(elementBytes: dtype.byteWidth)
            let region: ByteRegion
            switch proto.data {
            case .none:
                guard shape.elementCount == 0 else {
                    throw AmalgamError(
                        .invalidFormat, "\(ONNXDataType.name(proto.dataType)) tensor of shape \(shape) has no data")
                }
                region = ByteRegion(copying: [])
            case .raw(let offset, let count):
                guard count == storedBytes else {
                    throw AmalgamError(
                        .invalidFormat,
                        "raw_data holds \(count) bytes, shape \(shape) of \(ONNXDataType.name(proto.dataType)) needs \(storedBytes)",
                        offset: UInt64(offset))
                }
                region = file.region.slice(offset: offset, count: count)
            case .typed(let bytes):
                guard bytes.count == storedBytes else {
                    let width = max(dtype.byteWidth, 1)
                    throw AmalgamError(
                        .invalidFormat,
                        "typed data holds \(bytes.count / width) values, shape \(shape) needs \(shape.elementCount)")
                }
                region = ByteRegion(copying: bytes)
            case .external(let location, let offset, let length):
                region = try external.region(
                    location: location, offset: offset, length: length, expectedBytes: storedBytes)
            }
            return ONNXEntry(
                qualifiedName: name, kind: kind, inSubgraph: inSubgraph, canonicalName: name, transposed: false,
                proto: proto, dtype: dtype,
                storedShape: shape, storedRegion: region, densify: nil)
        }
    }

    /// A sparse initializer as a dense tensor: zeros, with `values` scattered to `indices`
    /// (checked: INT64, in range, one per value).
    private static func sparseEntry(
        _ sparse: ONNXSparseTensor, name: String, inSubgraph: Bool, file: MappedFile, external: ExternalDataFiles,
        path: String
    ) throws -> ONNXEntry {
        let values = try entry(
            sparse.values, name: name, kind: .sparse, inSubgraph: inSubgraph, file: file, external: external, path: path
        )
        let indices = try entry(
            sparse.indices, name: name + " (indices)", kind: .sparse, inSubgraph: inSubgraph, file: file,
            external: external, path: path)
        return try AmalgamError.withContext(file: path, tensor: name) {
            guard sparse.dims.allSatisfy({ $0 >= 0 }) else {
                throw AmalgamError(.invalidFormat, "negative dimension in \(sparse.dims)")
            }
            let shape = try Shape(checking: sparse.dims.map { UInt64($0) })
            let count = values.storedShape.elementCount
            guard values.storedShape.dimensions.count == 1 else {
                throw AmalgamError(.invalidFormat, "sparse values must be 1-D, not \(values.storedShape)")
            }
            guard indices.dtype == .i64 else {
                throw AmalgamError(.invalidFormat, "sparse indices must be INT64, not \(indices.dtype)")
            }
            let rank = shape.dimensions.count
            let linear = indices.storedShape.dimensions == [count]
            guard linear || indices.storedShape.dimensions == [count, rank] else {
                throw AmalgamError(
                    .invalidFormat,
                    "sparse indices of shape \(indices.storedShape) do not fit \(count) values of a rank-\(rank) tensor"
                )
            }
            let width = values.dtype.byteWidth
            let total = try shape.byteCount(elementBytes: width)
            let (source, positionsRegion) = (values.storedRegion, indices.storedRegion)
            var result = values
            result.storedShape = shape
            result.densify = {
                let dense = OwnedBuffer(byteCount: total)
                memset(dense.pointer, 0, total)
                try positionsRegion.withUnsafeBytes { (raw) throws(AmalgamError) in
                    for k in 0..<count {
                        var position = 0
                        if linear {
                            position = Int(raw.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self).littleEndian)
                        } else {
                            for axis in 0..<rank {
                                let coordinate = Int(
                                    raw.loadUnaligned(fromByteOffset: 8 * (k * rank + axis), as: Int64.self)
                                        .littleEndian)
                                guard coordinate >= 0, coordinate < shape.dimensions[axis] else {
                                    throw AmalgamError(
                                        .invalidFormat,
                                        "sparse index \(coordinate) on axis \(axis) is outside \(shape)", tensor: name)
                                }
                                position = position * shape.dimensions[axis] + coordinate
                            }
                        }
                        guard position >= 0, position < shape.elementCount else {
                            throw AmalgamError(
                                .invalidFormat,
                                "sparse index \(position) is outside the \(shape.elementCount) elements of \(shape)",
                                tensor: name)
                        }
                        source.withUnsafeBytes { values in
                            (dense.pointer + position * width).copyMemory(
                                from: values.baseAddress! + k * width, byteCount: width)
                        }
                    }
                }
                return dense.region
            }
            return result
        }
    }

    /// Packed 4-bit values (low nibble first) as one byte each, sign-extended for INT4.
    static func unpackFourBit(_ region: ByteRegion, count: Int, signed: Bool) -> ByteRegion {
        let buffer = OwnedBuffer(byteCount: count)
        let output = buffer.pointer.assumingMemoryBound(to: UInt8.self)
        region.withUnsafeBytes { packed in
            for index in 0..<count {
                let byte = packed[index / 2]
                var nibble = index % 2 == 0 ? byte & 0x0F : byte >> 4
                if signed, nibble & 0x08 != 0 { nibble |= 0xF0 }
                output[index] = nibble
            }
        }
        return buffer.region
    }
}
