/// One model a command writes: where, and how (format, dtype, writer settings).
public struct ModelOutput: Sendable {
    /// A file, or a folder (ending in `/`, or existing) for a Hugging Face folder.
    public var path: String
    public var settings: OutputSettings

    public init(path: String, settings: OutputSettings = OutputSettings()) {
        self.path = path
        self.settings = settings
    }

    /// The settings that describe an output, on the command line and in a recipe's outputs.
    public static let settings: [Setting] = [
        .to, .dtype, .maximumShardSize, .compress, .keepDType, .quant, .importanceMatrix, .template, .externalData,
        .zstd,
    ]

    /// Reads an output's settings (`--to`, `--dtype`, `--quant`...) from `values`.
    public static func settings(from values: SettingValues) -> OutputSettings {
        var settings = OutputSettings(
            format: values.text(.to), dtype: values.text(.dtype).flatMap(DType.init(name:)),
            maximumShardBytes: values.size(.maximumShardSize), compress: values.flag(.compress),
            keepDType: values.flag(.keepDType), quant: values.text(.quant), template: values.text(.template),
            externalData: values.flag(.externalData), architecture: values.text(.ggufArchitecture),
            importanceMatrix: values.text(.importanceMatrix))
        let named: [(OutputSetting, Setting)] = [
            (.maximumShardSize, .maximumShardSize), (.compress, .compress), (.keepDType, .keepDType), (.quant, .quant),
            (.template, .template), (.externalData, .externalData), (.architecture, .ggufArchitecture),
            (.importanceMatrix, .importanceMatrix),
        ]
        for (output, setting) in named { settings.labels[output] = values.label(setting) }
        settings.zstdLevel = values.integer(.zstd)
        return settings
    }

    /// True when the path names a folder (ends in `/` or is an existing folder).
    public var isFolder: Bool { path.hasSuffix("/") || FileSystem.isFolder(path) }

    /// The writer for this output: `--to`, else safetensors for a folder (a Hugging Face
    /// folder), else the file's extension.
    public func writer(in registry: FormatRegistry) throws(AmalgamError) -> any FormatWriter {
        if isCompressed || settings.zstdLevel != nil {
            guard !isFolder, isCompressed else {
                throw AmalgamError(
                    .usage,
                    "--zstd writes one compressed file whose name ends in .zst (model.safetensors.zst, model.gguf.zst)",
                    file: path)
            }
            let writer: any FormatWriter
            if let format = settings.format {
                writer = try registry.writer(named: format, for: path)
            } else {
                writer = try registry.writer(for: CompressedInput.innerName(of: path))
            }
            guard ["safetensors", "gguf"].contains(writer.identifier), settings.maximumShardBytes == nil else {
                throw AmalgamError(
                    .usage, "zstd output is for single safetensors and GGUF files (the formats read compressed)",
                    file: path)
            }
            return writer
        }
        if let format = settings.format { return try registry.writer(named: format, for: path) }
        if isFolder { return try registry.writer(named: "safetensors", for: path) }
        return try registry.writer(for: path)
    }

    /// True when the output is a zstd-compressed file (its name ends in `.zst`).
    public var isCompressed: Bool { path.lowercased().hasSuffix(".zst") }

    /// The zstd level the file is compressed at, nil when it is not compressed.
    var zstdLevel: Int? { isCompressed ? settings.zstdLevel ?? 3 : nil }

    /// The file the writer is given: the path itself, or for a folder output in a format
    /// other than safetensors (which names its own files), `model.EXT` inside it.
    func writerPath(for writer: any FormatWriter) -> String {
        guard isFolder, writer.identifier != "safetensors" else { return path }
        let folder = path.hasSuffix("/") ? String(path.dropLast()) : path
        return folder + "/model." + (writer.fileExtensions.first ?? writer.identifier)
    }

    /// `graph` as this output stores it: floating-point tensors converted to the dtype; for a
    /// writer that stores plain dtypes only, quantised tensors decoded (to the dtype asked
    /// for, else the one the model's other float tensors have), with a note saying so.
    func prepared(_ graph: ModelGraph, for writer: any FormatWriter) throws -> (graph: ModelGraph, notes: [String]) {
        if let dtype = settings.dtype { return (try graph.convertingFloatingPoint(to: dtype), []) }
        let encodings = graph.quantizedEncodings
        guard !encodings.isEmpty, !writer.accepts(.quant) else { return (graph, []) }
        let target = graph.prevailingFloatDType
        let count = graph.tensors.filter { $0.encoding.dtype == nil }.count
        let note =
            "decoded \(count) quantised tensor\(count == 1 ? "" : "s") (\(encodings.joined(separator: ", "))) to \(target.rawValue), as \(writer.displayName) stores plain dtypes (--dtype chooses f32, f16 or bf16)"
        return (try graph.decodingQuantized(to: target), [note])
    }
}
