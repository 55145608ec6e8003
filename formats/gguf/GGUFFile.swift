import AmalgamCore

/// A parsed GGUF file (v2 or v3, little-endian): metadata and tensor infos, every count,
/// length, size and offset checked against the bytes that are there; tensor data stays
/// memory-mapped.
struct GGUFFile {
    static let magic: [UInt8] = Array("GGUF".utf8)
    static let defaultAlignment = 32
    static let maximumNameBytes = 63
    static let maximumDimensions = 4

    let path: String
    let file: MappedFile
    let version: UInt32
    let metadata: Metadata
    let alignment: Int
    let tensors: [GGUFTensorInfo]
    /// File offset of the data section.
    let dataOffset: Int

    /// Parses the file; with `log`, faults past which parsing can go on are recorded there
    /// instead of thrown (and, when strict, departures from the reference writers too).
    init(path: String, log: FaultLog? = nil) throws {
        let file = try MappedFile(path: path)
        self.path = path
        self.file = file
        var reader = GGUFByteReader(region: file.region, path: path)
        guard file.size >= 4, try reader.bytes(4) == Self.magic else {
            throw AmalgamError(.invalidFormat, "not a GGUF file (missing 'GGUF' magic)", file: path, offset: 0)
        }
        let version = try reader.u32("version")
        switch version {
        case 2, 3: break
        case 0x0200_0000, 0x0300_0000:
            throw AmalgamError(
                .unsupported, "big-endian GGUF (byte-swapped version \(version.byteSwapped)) is not supported",
                file: path, offset: 4)
        case 1:
            throw AmalgamError(
                .unsupported, "GGUF version 1 is not supported (versions 2 and 3 are)", file: path, offset: 4)
        default: throw AmalgamError(.invalidFormat, "unknown GGUF version \(version)", file: path, offset: 4)
        }
        self.version = version
        let tensorCount = try reader.count("tensor count", minimumBytesEach: 8 + 1 + 4 + 8 + 4 + 8)
        let keyCount = try reader.count("metadata key count", minimumBytesEach: 8 + 1 + 4 + 1)

        var metadata = Metadata()
        for _ in 0..<keyCount {
            let keyOffset = reader.position
            let key = try reader.string("metadata key")
            if key.isEmpty { try log.report(reader.error("empty metadata key", at: keyOffset)) }
            let duplicate = metadata[key] != nil
            if duplicate { try log.report(reader.error("duplicate metadata key '\(key)'", at: keyOffset)) }
            let typeOffset = reader.position
            let type = try reader.u32("value type of '\(key)'")
            let value = try reader.value(ofType: type, key: key, at: typeOffset)
            if !duplicate { metadata[key] = value }
        }
        var alignment = Self.defaultAlignment
        if let value = metadata["general.alignment"] {
            if let number = value.intValue, number > 0, number & (number - 1) == 0, number <= 1 << 30 {
                alignment = number
            } else {
                try log.report(
                    AmalgamError(
                        .invalidFormat, "general.alignment \(value) is not a positive power of two", file: path))
            }
            if case .u32 = value {
            } else {
                log?.depart(AmalgamError(.invalidFormat, "general.alignment is not stored as a u32", file: path))
            }
        }
        self.metadata = metadata
        self.alignment = alignment

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(tensorCount)
        var seen = Set<String>()
        for _ in 0..<tensorCount {
            let infoOffset = reader.position
            let name = try reader.string("tensor name")
            if name.isEmpty || name.utf8.count > Self.maximumNameBytes {
                try log.report(
                    reader.error(
                        "tensor name of \(name.utf8.count) bytes (must be 1 to \(Self.maximumNameBytes))",
                        at: infoOffset))
            }
            let unique = seen.insert(name).inserted
            if !unique {
                try log.report(
                    AmalgamError(
                        .invalidFormat, "duplicate tensor name", file: path, tensor: name, offset: UInt64(infoOffset)))
            }
            let info = try AmalgamError.withContext(tensor: name) { try reader.tensorInfo(name: name, log: log) }
            if let info, unique { infos.append(info) }
        }
        // Data starts at the next multiple of the alignment after the infos.
        // A file without tensors (llama.cpp's vocabulary-only files) may end before that padding.
        let dataOffset = (reader.position + alignment - 1) / alignment * alignment
        guard dataOffset <= file.size || infos.isEmpty else {
            throw AmalgamError(
                .invalidFormat, "file ends at byte \(file.size), before its data section at \(dataOffset)", file: path,
                offset: UInt64(file.size))
        }
        // ggml requires each offset to be the padded sum of the sizes before it.
        var expected = 0
        for info in infos {
            if info.offset != expected {
                let problem =
                    info.offset < expected ? "overlaps the tensor before it" : "leaves a gap after the tensor before it"
                try log.report(
                    AmalgamError(
                        .invalidFormat, "data offset \(info.offset) \(problem) (expected \(expected))", file: path,
                        tensor: info.name,
                        offset: UInt64(dataOffset) &+ UInt64(info.offset)))
            }
            if info.byteCount > file.size - dataOffset - info.offset {
                try log.report(
                    AmalgamError(
                        .invalidFormat,
                        "\(info.byteCount) bytes of \(info.type.name) data run past the end of the file (\(file.size) bytes)",
                        file: path, tensor: info.name, offset: UInt64(dataOffset + info.offset)))
            }
            expected = max(expected, (info.offset + info.byteCount + alignment - 1) / alignment * alignment)
        }
        if let log, log.strict {
            Self.departures(
                metadata: metadata, infos: infos, end: dataOffset + expected, size: file.size, path: path, log: log)
        }
        self.tensors = infos
        self.dataOffset = dataOffset
    }

    /// Every fault of the file at `path` and, when strict, what the reference writers never
    /// write (trailing bytes, required keys missing).
    static func audit(path: String, strict: Bool) -> FileAudit {
        FaultLog.audit(path, strict: strict) { log in _ = try GGUFFile(path: path, log: log) }
    }

    private static func departures(
        metadata: Metadata, infos: [GGUFTensorInfo], end: Int, size: Int, path: String, log: FaultLog
    ) {
        if size > end, !infos.isEmpty {
            log.depart(
                AmalgamError(
                    .invalidFormat, "\(size - end) trailing bytes after the last tensor's padding", file: path,
                    offset: UInt64(end)))
        }
        if metadata["general.architecture"]?.stringValue == nil {
            log.depart(AmalgamError(.invalidFormat, "no general.architecture (the GGUF spec requires it)", file: path))
        }
        if infos.contains(where: { $0.type.blockLayout.elements > 1 }), metadata["general.quantization_version"] == nil
        {
            log.depart(
                AmalgamError(
                    .invalidFormat, "quantised tensors but no general.quantization_version", file: path))
        }
    }

    /// The bytes of one tensor, memory-mapped.
    func region(of info: GGUFTensorInfo) -> ByteRegion {
        file.region.slice(offset: dataOffset + info.offset, count: info.byteCount)
    }
}
