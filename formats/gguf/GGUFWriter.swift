import AmalgamCore

/// Plans a `ModelGraph` as a GGUF v3 file: canonical names mapped to GGUF names with the
/// architecture's transforms, metadata carried over (or rebuilt from config.json), and with
/// `--quant` the type of every tensor. `GGUFWritePlan` then streams the tensors.
struct GGUFWriter {
    let graph: ModelGraph
    let options: GGUFWriterOptions
    /// Choices the user should know about, by what was chosen, with the tensors concerned
    /// (one summary line each, however many tensors).
    var choices: [(what: String, tensors: [String])] = []

    mutating func note(_ what: String, _ tensor: String) {
        if let index = choices.firstIndex(where: { $0.what == what }) {
            choices[index].tensors.append(tensor)
        } else {
            choices.append((what, [tensor]))
        }
    }

    /// Lines about the whole file (the architecture, tensors left out).
    var extraWarnings: [String] = []

    /// One line per choice: `NAME: what`, or `181 tensors ('a', 'b', 'c', ...): what`.
    var warnings: [String] {
        extraWarnings
            + choices.map { what, tensors in
                guard tensors.count > 1 else { return "\(tensors[0]): \(what)" }
                let names =
                    tensors.prefix(3).map { "'\($0)'" }.joined(separator: ", ") + (tensors.count > 3 ? ", ..." : "")
                return "\(tensors.count) tensors (\(names)): \(what)"
            }
    }

    init(graph: ModelGraph, options: GGUFWriterOptions) {
        self.graph = graph
        self.options = options
    }

    /// One output tensor.
    struct Planned {
        /// Position of the source tensor in the graph.
        var index: Int
        var tensor: Tensor
        var name: String
        /// Shape in GGUF orientation (after the transform), row-major.
        var shape: Shape
        var type: GGMLType
        var transform: GGUFTensorTransform
        var byteCount: Int
        /// The importance matrix's values for this tensor (`--imatrix`), when it is quantised.
        var importance: ImportanceWeights? = nil
    }

    mutating func plan(to path: String) throws -> GGUFWritePlan {
        let quant = try GGUFQuantization(options.quant)
        let importanceMatrix = try options.importanceMatrix.map { try ImportanceMatrix(path: $0) }
        let (architecture, stated) = resolvedArchitecture()
        let naming = GGUFNaming.forArchitecture(architecture)
        if naming == nil {
            extraWarnings.append(
                stated
                    ? "general.architecture '\(architecture)' has no name table in Amalgam: tensors keep their names, and llama.cpp will not load the file"
                    : "the model does not say its architecture (no general.architecture, no config.json model_type): general.architecture is 'unknown', tensors keep their names, and llama.cpp will not load the file; --arch NAME sets one (\(GGUFNaming.all.map(\.architecture).joined(separator: ", ")))"
            )
        }
        let (heads, kvHeads) = headCounts(architecture: architecture)

        var named: [(index: Int, name: String, transform: GGUFTensorTransform, shape: Shape)] = []
        var names = Set<String>()
        var leftOut: [String] = []
        for (index, tensor) in graph.tensors.enumerated() {
            if let naming, naming.leavesOut(tensor.name) {
                leftOut.append(tensor.name)
                continue
            }
            let (name, transform, shape) = try AmalgamError.withContext(file: path, tensor: tensor.name) {
                try ggufNameAndShape(tensor, naming: naming, heads: heads, kvHeads: kvHeads)
            }
            guard names.insert(name).inserted else {
                throw AmalgamError(
                    .invalidFormat, "two tensors map to the GGUF name '\(name)'", file: path, tensor: tensor.name)
            }
            named.append((index, name, transform, shape))
        }
        // The types --quant asks for, tensor by tensor in file order (the mixtures count layers as they go).
        let requested =
            quant?.requestedTypes(
                named.map { ($0.name, $0.shape.dimensions) },
                layers: blockCount(architecture: architecture, names: names),
                groupedQueries: groupedQueries(architecture: architecture), importance: importanceMatrix != nil,
                rules: naming != nil)
            ?? [GGMLType?](repeating: nil, count: named.count)
        var planned: [Planned] = []
        for (item, type) in zip(named, requested) {
            let tensor = graph.tensors[item.index]
            let target = try AmalgamError.withContext(file: path, tensor: tensor.name) {
                try targetType(tensor, shape: item.shape, requested: type, quantising: quant != nil)
            }
            let storedShape = item.shape.dimensions.isEmpty ? Shape([1]) : item.shape
            planned.append(
                Planned(
                    index: item.index, tensor: tensor, name: item.name, shape: storedShape, type: target,
                    transform: item.transform, byteCount: try target.encoding.byteCount(for: storedShape)))
        }
        if let importanceMatrix {
            try attachImportance(importanceMatrix, to: &planned, quant: quant)
        } else if quant?.needsImportance == true {
            throw AmalgamError(
                .usage,
                "--quant \(options.quant ?? "") needs an importance matrix (--imatrix FILE, from llama-imatrix): its 2-bit weights are too coarse without one (llama-quantize refuses it too)",
                file: path)
        }
        if !leftOut.isEmpty {
            extraWarnings.append(
                "left out \(leftOut.joined(separator: ", ")), which llama.cpp's \(architecture) does not use (as its converter does)"
            )
        }
        let metadata = try AmalgamError.withContext(file: path) {
            try outputMetadata(
                architecture: architecture, quant: quant, anyQuantized: planned.contains { $0.type.plainDType == nil },
                fileType: fileType(of: planned, quant: quant), importanceMatrix: importanceMatrix)
        }
        let alignment = metadata["general.alignment"]?.intValue ?? GGUFFile.defaultAlignment
        var header = GGUFHeaderEncoder()
        try AmalgamError.withContext(file: path) {
            try header.encodeHeader(metadata: metadata, tensors: planned, alignment: alignment)
        }
        return GGUFWritePlan(
            path: path, header: header.bytes, tensors: planned, alignment: alignment, warnings: warnings)
    }

    static func padding(_ count: Int, _ alignment: Int) -> Int { (alignment - count % alignment) % alignment }

    // MARK: Planning

    /// The GGUF architecture, and whether anything stated it: `--arch`, else the source's
    /// `general.architecture`, else the one matching config.json's `model_type`, else that
    /// model type or the trainer's `amalgam.architecture` verbatim, else `unknown`.
    func resolvedArchitecture() -> (name: String, stated: Bool) {
        if let explicit = options.architecture { return (explicit, true) }
        if let name = graph.metadata["general.architecture"]?.stringValue, !name.isEmpty { return (name, true) }
        if let naming = GGUFNaming.forModelType(graph.architecture.name) { return (naming.architecture, true) }
        if let name = graph.architecture.name ?? graph.metadata["amalgam.architecture"]?.stringValue {
            return (name, true)
        }
        return ("unknown", false)
    }

    /// `general.file_type` for what is written. With `--quant`, that type's, as
    /// llama-quantize writes it, when any tensor got it; otherwise the type most weights have
    /// (tensors of two or more dimensions, floating-point: llama.cpp's file types are "mostly
    /// X, except 1-D tensors"; the first to reach the count in name order wins a tie), named
    /// as llama.cpp's loader guesses it. A GGUF source's own value stands when it names that type.
    func fileType(of planned: [Planned], quant: GGUFQuantization?) -> UInt32 {
        if let quant, case .mixture = quant { return quant.fileType }
        if let quant, planned.contains(where: { $0.type == quant.mainType }) { return quant.fileType }
        let weights = planned.filter { $0.shape.rank >= 2 && !$0.type.isInteger }
        var counts: [GGMLType: Int] = [:]
        var dominant = GGMLType.f32
        var most = 0
        for item in (weights.isEmpty ? planned : weights).sorted(by: {
            Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8))
        }) {
            counts[item.type, default: 0] += 1
            if counts[item.type]! > most {
                most = counts[item.type]!
                dominant = item.type
            }
        }
        if graph.sourceFormat == "gguf", let stated = graph.metadata["general.file_type"]?.intValue,
            Self.dominantType(ofFileType: UInt32(stated)) == dominant
        {
            return UInt32(stated)
        }
        return Self.guessedFileTypes[dominant] ?? 0
    }

    /// llama.cpp's guess of a file type from its dominant tensor type (llama-model-loader).
    static let guessedFileTypes: [GGMLType: UInt32] = [
        .f32: 0, .f16: 1, .bf16: 32, .q4_0: 2, .q4_1: 3, .q5_0: 8, .q5_1: 9, .q8_0: 7, .q2_K: 10, .q3_K: 12,
        .q4_K: 15, .q5_K: 17, .q6_K: 18, .tq1_0: 36, .tq2_0: 37, .iq2_XXS: 19, .iq2_XS: 20, .iq2_S: 28,
        .iq3_XXS: 23, .iq1_S: 24, .iq1_M: 31, .iq4_NL: 25, .iq4_XS: 30, .iq3_S: 26, .nvfp4: 39, .q1_0: 40,
    ]

    /// The tensor type a llama_ftype is mostly made of (the K-quant mixtures by their main type).
    static func dominantType(ofFileType fileType: UInt32) -> GGMLType? {
        let mixtures: [UInt32: GGMLType] = [
            11: .q3_K, 13: .q3_K, 14: .q4_K, 16: .q5_K, 21: .q2_K, 22: .iq3_XXS, 27: .iq3_S, 29: .iq2_S, 38: .mxfp4,
        ]
        return mixtures[fileType] ?? guessedFileTypes.first { $0.value == fileType }?.key
    }

    /// llama.cpp's n_gqa: query heads per key-value head (integer division; 0 without counts).
    func groupedQueries(architecture: String) -> Int {
        let (heads, kvHeads) = headCounts(architecture: architecture)
        guard let heads, let kvHeads = kvHeads ?? Optional(heads), kvHeads > 0 else { return 0 }
        return heads / kvHeads
    }

    func headCounts(architecture: String) -> (Int?, Int?) {
        func number(_ value: MetadataValue?) -> Int? { value?.intValue ?? value?.stringValue.flatMap { Int($0) } }
        let heads =
            number(graph.metadata["\(architecture).attention.head_count"])
            ?? number(graph.architecture.parameters["num_attention_heads"])
        let kvHeads =
            number(graph.metadata["\(architecture).attention.head_count_kv"])
            ?? number(graph.architecture.parameters["num_key_value_heads"])
        return (heads, kvHeads)
    }

    /// The tensor's GGUF name, the transform to its GGUF layout, and its shape there.
    func ggufNameAndShape(_ tensor: Tensor, naming: GGUFNaming?, heads: Int?, kvHeads: Int?) throws
        -> (String, GGUFTensorTransform, Shape)
    {
        var name = tensor.name
        var transform = GGUFTensorTransform.none
        if let naming, let mapped = naming.ggufName(forHuggingFace: tensor.name) {
            name = mapped
            transform = try naming.transform(forGGUF: mapped, heads: heads, kvHeads: kvHeads)
        }
        guard !name.isEmpty, name.utf8.count <= GGUFFile.maximumNameBytes else {
            throw AmalgamError(
                .unsupported,
                "GGUF tensor names are at most \(GGUFFile.maximumNameBytes) bytes; '\(name)' has \(name.utf8.count)")
        }
        let shape = TensorTransforms.shape(tensor.shape, after: transform)
        guard (1...GGUFFile.maximumDimensions).contains(max(shape.dimensions.count, 1)) else {
            throw AmalgamError(
                .unsupported,
                "has \(shape.dimensions.count) dimensions; GGUF allows at most \(GGUFFile.maximumDimensions)")
        }
        if case .rotaryPermutation(let count) = transform {
            _ = try TensorTransforms.rotarySourceRows(rows: shape.dimensions.first ?? 1, heads: count, toGGUF: true)
        }
        return (name, transform, shape)
    }

    /// The block count the mixtures' layer rules use: `{arch}.block_count`, else config.json's
    /// `num_hidden_layers`, else the number of `blk.N.` prefixes.
    func blockCount(architecture: String, names: Set<String>) -> Int {
        if let count = graph.metadata["\(architecture).block_count"]?.intValue
            ?? graph.architecture.parameters["num_hidden_layers"]?.intValue
        {
            return count
        }
        let blocks = Set(
            names.compactMap { name -> Int? in
                guard name.hasPrefix("blk.") else { return nil }
                return Int(name.dropFirst(4).prefix { $0 != "." })
            })
        return (blocks.max() ?? -1) + 1
    }

    /// The tensor's GGUF type: `requested` (from `--quant`, nil when it is not quantised)
    /// for floating-point tensors, with a note when its rows needed the fallback; vectors F32
    /// when quantising; otherwise the tensor's own type (integers widened where GGUF lacks one).
    mutating func targetType(_ tensor: Tensor, shape: Shape, requested: GGMLType?, quantising: Bool) throws -> GGMLType
    {
        let source = GGMLType(tensor.encoding)
        let isFloat: Bool = {
            if case .plain(let dtype) = tensor.encoding { return dtype.isFloatingPoint }
            return true
        }()
        if quantising, isFloat, shape.dimensions.count < 2 { return .f32 }
        if let quant = requested, isFloat {
            if source == quant { return quant }
            let row = shape.dimensions.last ?? 1
            if let intended = options.quant.flatMap({ try? GGUFQuantization($0) })?.mainType, quant != intended,
                row % intended.blockLayout.elements != 0, quant == GGUFQuantization.fallback(intended, rowLength: row)
            {
                note(
                    "row length \(row) is not a multiple of the \(intended.name) block size \(intended.blockLayout.elements); stored as \(quant.name) (llama.cpp's fallback)",
                    tensor.name)
            }
            if case .quantized(let encoding) = tensor.encoding, quant.plainDType == nil {
                note(
                    "re-quantised from \(encoding.codec.name) to \(quant.name): the two quantisation errors add up; quantise from the f16/f32 weights where you can",
                    tensor.name)
            }
            return quant
        }
        if let source { return source }
        guard case .plain(let dtype) = tensor.encoding else {
            throw AmalgamError(.unsupported, "encoding \(tensor.encoding) has no GGUF type")
        }
        let replacement: GGMLType
        switch dtype {
        case .f8_e4m3, .f8_e5m2: replacement = .f16
        case .bool: replacement = .i8
        case .u8: replacement = .i16
        case .u16: replacement = .i32
        case .u32: replacement = .i64
        default:
            throw AmalgamError(
                .unsupported,
                "GGUF has no type that holds \(dtype.rawValue) values exactly (its integers are I8, I16, I32 and I64)")
        }
        note("GGUF has no \(dtype.rawValue) type; stored as \(replacement.name), every value kept", tensor.name)
        return replacement
    }

    // MARK: Tensor bytes

    /// The bytes of one planned tensor in its GGUF type and orientation, from `tensor` (the
    /// planned tensor, or one of the same shape and encoding), handed to `write` in order a
    /// block of rows at a time (`Tensor.forEachRowBlock`): a conversion or quantisation holds
    /// one block, whatever the tensor's size. A rotary permutation works on blocks of whole
    /// heads; a transpose (GPT-2's Conv1D) needs the whole tensor.
    ///
    /// A converted block is valid only during its `write` call: the next block reuses its
    /// buffers (one decode buffer and one output buffer per tensor), so a streamed conversion
    /// allocates once per tensor and its memory does not depend on malloc reusing freed blocks.
    static func produce(
        _ item: Planned, from tensor: Tensor, maxBytes: Int = Tensor.streamingBlockBytes,
        write: (ByteRegion) throws -> Void
    ) throws {
        if item.transform == .transpose {
            return try write(try produceWhole(item, from: tensor))
        }
        var headRows = 1
        if case .rotaryPermutation(let heads) = item.transform {
            let rows = item.shape.dimensions.first ?? 1
            guard heads > 0, rows % heads == 0, tensor.rowCount == rows else {
                return try write(try produceWhole(item, from: tensor))
            }
            headRows = rows / heads
        }
        let outputRowBytes = item.byteCount / max(tensor.rowCount, 1)
        let rowLength = tensor.rowLength
        var output: OwnedBuffer?
        var values: [Float] = []
        /// Runs `body` on the reused output buffer's first `rows.count * outputRowBytes`
        /// bytes and returns them (the first block is the largest, so it is allocated once).
        func intoOutput(
            _ rows: Range<Int>, _ body: (UnsafeMutableRawBufferPointer) throws -> Void
        ) rethrows -> ByteRegion {
            let byteCount = rows.count * outputRowBytes
            if output == nil || output!.byteCount < byteCount { output = OwnedBuffer(byteCount: byteCount) }
            try body(UnsafeMutableRawBufferPointer(start: output!.pointer, count: byteCount))
            return output!.region.slice(offset: 0, count: byteCount)
        }
        var encode: (Range<Int>, ByteRegion) throws -> ByteRegion
        if item.transform != .addOne, GGMLType(tensor.encoding) == item.type {
            encode = { _, bytes in bytes }  // blocks or values copied as they are
        } else if item.transform != .addOne, case .plain(let from) = tensor.encoding, let to = item.type.plainDType,
            ElementConversion.canConvert(from: from, to: to)
        {
            encode = { rows, source in
                intoOutput(rows) { output in
                    source.withUnsafeBytes {
                        ElementConversion.convert($0, from: from, into: output, to: to, count: rows.count * rowLength)
                    }
                }
            }
        } else {
            let totalRows = tensor.rowCount
            encode = { rows, source in
                let count = rows.count * rowLength
                if values.count < count { values = [Float](repeating: 0, count: count) }
                return try values.withUnsafeMutableBufferPointer { buffer in
                    let block = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
                    try tensor.encoding.decode(source, into: block)
                    if item.transform == .addOne { TensorTransforms.addOne(block, toGGUF: true) }
                    return try intoOutput(rows) { output in
                        try Self.encode(
                            UnsafeBufferPointer(block), as: item.type, into: output, importance: item.importance,
                            firstRow: rows.lowerBound, totalRows: totalRows)
                    }
                }
            }
        }
        try tensor.forEachRowBlock(maxBytes: maxBytes, rowMultiple: headRows) { rows, source in
            var bytes = try encode(rows, source)
            if headRows > 1 {
                bytes = try TensorTransforms.permutingRows(
                    bytes, rows: rows.count, heads: rows.count / headRows, toGGUF: true)
            }
            try write(bytes)
            source.releaseResidentPages()
        }
    }

    /// The whole tensor's bytes in its GGUF type and orientation, for the transforms that move
    /// values across rows.
    static func produceWhole(_ item: Planned, from tensor: Tensor) throws -> ByteRegion {
        var bytes: ByteRegion
        let valueTransform = item.transform == .transpose || item.transform == .addOne
        if !valueTransform, GGMLType(tensor.encoding) == item.type {
            bytes = try tensor.loadBytes()
        } else {
            var values = try tensor.floatValues()
            values = TensorTransforms.transformedValues(
                values, shape: tensor.shape, transform: item.transform, toGGUF: true)
            bytes = try Self.encode(values, as: item.type, byteCount: item.byteCount, importance: item.importance)
        }
        if case .rotaryPermutation(let heads) = item.transform {
            bytes = try TensorTransforms.permutingRows(
                bytes, rows: item.shape.dimensions.first ?? 1, heads: heads, toGGUF: true)
        }
        return bytes
    }

    /// `values` (rows `firstRow...` of a tensor of `totalRows` rows, which picks each row's
    /// expert in `importance`) encoded as `type`, in a fresh buffer of `byteCount` bytes.
    static func encode(
        _ values: [Float], as type: GGMLType, byteCount: Int, importance: ImportanceWeights? = nil, firstRow: Int = 0,
        totalRows: Int? = nil
    ) throws -> ByteRegion {
        let output = OwnedBuffer(byteCount: byteCount)
        try values.withUnsafeBufferPointer { source in
            try encode(
                source, as: type, into: UnsafeMutableRawBufferPointer(start: output.pointer, count: byteCount),
                importance: importance, firstRow: firstRow, totalRows: totalRows)
        }
        return output.region
    }

    /// `source` encoded as `type` into `destination` (exactly its encoded size).
    static func encode(
        _ source: UnsafeBufferPointer<Float>, as type: GGMLType, into destination: UnsafeMutableRawBufferPointer,
        importance: ImportanceWeights?, firstRow: Int, totalRows: Int?
    ) throws {
        if let dtype = type.plainDType {
            ElementConversion.convert(
                UnsafeRawBufferPointer(source), from: .f32, into: destination, to: dtype, count: source.count)
        } else {
            try GGUFQuantizer.encode(
                source, as: type, into: destination, importance: importance, firstRow: firstRow, totalRows: totalRows)
        }
    }

    /// Each quantised tensor's importance values, as llama-quantize looks them up: by GGUF
    /// name; tensors the matrix does not cover are quantised without (one note), except
    /// where the file type needs them (Q2_K_S's Q2_K tensors, not the embedding or output).
    mutating func attachImportance(
        _ matrix: ImportanceMatrix, to planned: inout [Planned], quant: GGUFQuantization?
    ) throws {
        for index in planned.indices where planned[index].type.plainDType == nil {
            let item = planned[index]
            let dimensions = item.shape.dimensions
            let experts = dimensions.count >= 3 ? dimensions[dimensions.count - 3] : 1
            let weights = try matrix.weights(for: item.name, rowLength: dimensions.last ?? 1, experts: experts)
            planned[index].importance = weights
            guard weights == nil else { continue }
            if quant?.needsImportance == true, item.type == .q2_K, item.name != "token_embd.weight",
                item.name != "output.weight"
            {
                throw AmalgamError(
                    .invalidFormat,
                    "the importance matrix has no values for \(item.name), which --quant \(options.quant ?? "") stores as Q2_K (llama-quantize refuses this too)",
                    file: matrix.path, tensor: item.tensor.name)
            }
            note(
                "not in the importance matrix (by its GGUF name): quantised without importance weights",
                item.tensor.name)
        }
    }

    // MARK: Metadata

    /// Keys this writer sets itself.
    static let computedKeys: Set<String> = [
        "general.architecture", "general.quantization_version", "general.file_type",
    ]

    mutating func outputMetadata(
        architecture: String, quant: GGUFQuantization?, anyQuantized: Bool, fileType: UInt32,
        importanceMatrix: ImportanceMatrix? = nil
    ) throws -> Metadata {
        var metadata = Metadata()
        metadata["general.architecture"] = .string(architecture)
        if graph.sourceFormat == "gguf" {
            // Keys keep their order; the computed ones are replaced in place below.
            for entry in graph.metadata where entry.key != "general.quantization_version" || anyQuantized {
                metadata[entry.key] = entry.value
            }
        } else {
            for entry in HuggingFaceConfig.ggufMetadata(
                fromConfig: graph.architecture.parameters, architecture: architecture)
            {
                metadata[entry.key] = entry.value
            }
            if let (keys, notes) = GGUFTokenizerImport.metadata(
                from: graph.attachments, config: graph.architecture.parameters)
            {
                for entry in keys { metadata[entry.key] = entry.value }
                extraWarnings += notes
            }
            // `format` is safetensors' own key (transformers reads it), not the model's.
            for entry in graph.metadata
            where !Self.computedKeys.contains(entry.key) && entry.key != "format" && metadata[entry.key] == nil {
                if let value = Self.retyped(entry, architecture: architecture) { metadata[entry.key] = value }
            }
        }
        metadata["general.file_type"] = .u32(fileType)
        if anyQuantized { metadata["general.quantization_version"] = .u32(2) }
        // llama-quantize records the matrix after the copied keys (a KV override each).
        for (key, value) in importanceMatrix?.metadata ?? [] { metadata[key] = value }
        return metadata
    }
}

extension GGUFWriter {
    /// Formats with string-only metadata (safetensors) hold GGUF's own keys as text. Under
    /// GGUF's namespaces, give them back the types GGUF uses: booleans, u32 for
    /// non-negative integers, f32 for other numbers, arrays of strings or i32; the long
    /// tokenizer arrays are not there (the tokenizer is rebuilt from tokenizer.json). Other
    /// keys are kept as they are.
    static func retyped(_ entry: Metadata.Entry, architecture: String) -> MetadataValue? {
        guard case .string(let text) = entry.value,
            entry.key.hasPrefix("general.") || entry.key.hasPrefix("tokenizer.")
                || entry.key.hasPrefix("\(architecture).")
        else { return entry.value }
        if text == "true" || text == "false" { return .bool(text == "true") }
        if let integer = UInt32(text) { return .u32(integer) }
        if let integer = Int32(text) { return .i32(integer) }
        if text.hasPrefix("[") {
            // Short arrays (general.languages, tags) come back as strings or i32, as gguf-py writes them.
            guard let elements = Array(text.utf8).withUnsafeBytes({ try? JSONParser.parse($0) })?.arrayValue,
                !elements.isEmpty
            else { return nil }
            let strings = elements.compactMap(\.stringValue)
            if strings.count == elements.count { return .array(strings.map { .string($0) }) }
            let integers = elements.compactMap { $0.doubleValue.flatMap { Int32(exactly: $0) } }
            return integers.count == elements.count ? .array(integers.map { .i32($0) }) : nil
        }
        if let number = Float(text), text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
            return .f32(number)
        }
        return entry.value
    }
}
