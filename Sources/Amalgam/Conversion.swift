#if canImport(Glibc)
    import Glibc
#endif

/// Choices for `Amalgam.convert`.
public struct ConversionOptions: Sendable {
    /// Input format identifier; nil sniffs the file.
    public var inputFormat: String?
    /// Output format identifier; nil uses the output's extension.
    public var outputFormat: String?
    /// Convert floating-point tensors to this dtype; nil keeps them.
    public var dtype: DType?
    public var overwrite: Bool
    public var maximumShardBytes: Int?
    public var progress: any ProgressReporter
    /// Writer-specific options (`compress`, `keep-dtype`); the writer must list each one in
    /// its `writeOptionNames`.
    public var writerOptions: [String: String]
    /// Receives the writer's warnings, one line each.
    public var warn: @Sendable (String) -> Void

    public init(
        inputFormat: String? = nil, outputFormat: String? = nil, dtype: DType? = nil, overwrite: Bool = false,
        maximumShardBytes: Int? = nil, progress: any ProgressReporter = SilentProgress(),
        writerOptions: [String: String] = [:], warn: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.inputFormat = inputFormat
        self.outputFormat = outputFormat
        self.dtype = dtype
        self.overwrite = overwrite
        self.maximumShardBytes = maximumShardBytes
        self.progress = progress
        self.writerOptions = writerOptions
        self.warn = warn
    }
}

/// What a conversion did.
public struct ConversionResult: Sendable {
    public var inputFormat: String
    public var outputFormat: String
    /// Files created, in the order they were created.
    public var files: [String]
    public var tensorCount: Int
    public var parameterCount: Int
}

extension Amalgam {
    /// Reads `input` (any readable format) and writes it as `output`, streaming tensor by
    /// tensor. Nothing is created under an output name unless the whole conversion succeeds.
    public static func convert(
        _ input: String, to output: String, options: ConversionOptions = ConversionOptions(),
        registry: FormatRegistry = Amalgam.builtInFormats
    ) throws -> ConversionResult {
        let reader = try registry.readerPlugin(for: input, explicit: options.inputFormat)
        // A folder output (existing, or named with a trailing '/') keeps the input's format.
        let writer =
            try options.outputFormat == nil && isFolder(output) && reader.capabilities.contains(.write)
            ? reader : registry.writerPlugin(for: output, explicit: options.outputFormat)
        var graph = try reader.load(input, options: ReadOptions(progress: options.progress))
        var protected = graph.sourceFileIdentities
        if let identity = FileIdentity.of(path: input) { protected.insert(identity) }
        if let dtype = options.dtype { graph = try graph.convertingFloatingPoint(to: dtype) }
        if options.maximumShardBytes != nil, !writer.capabilities.contains(.sharding) {
            throw AmalgamError(.usage, "--max-shard-size is not supported for \(writer.displayName) output")
        }
        try writer.checkWriteOptions(options.writerOptions.keys)
        // A new folder named with a trailing '/' is created, and removed again on failure.
        var createdFolder: String?
        if output.hasSuffix("/"), FileIdentity.of(path: output) == nil {
            let folder = String(output.dropLast())
            guard mkdir(folder, 0o755) == 0 else {
                throw AmalgamError(
                    .io, "cannot create the output folder", file: folder, cause: String(cString: strerror(errno)))
            }
            createdFolder = folder
        }
        defer { if let createdFolder, FileIdentity.of(path: createdFolder + "/.") != nil { rmdir(createdFolder) } }
        let files = try writer.write(
            graph, to: output,
            options: WriteOptions(
                overwrite: options.overwrite, maximumShardBytes: options.maximumShardBytes,
                protectedInputs: protected, progress: options.progress, extra: options.writerOptions, warn: options.warn
            ))
        createdFolder = nil  // success: keep it
        return ConversionResult(
            inputFormat: reader.identifier, outputFormat: writer.identifier, files: files,
            tensorCount: graph.tensors.count, parameterCount: graph.parameterCount)
    }
}

private func isFolder(_ path: String) -> Bool { path.hasSuffix("/") || FileSystem.isFolder(path) }
