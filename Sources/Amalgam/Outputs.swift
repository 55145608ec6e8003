/// Pieces every command that writes several outputs shares (merge, tune).
extension Amalgam {
    /// The identities of those of `paths` that exist: inputs a run must never overwrite.
    static func identities(of paths: [String]) -> Set<FileIdentity> {
        Set(paths.compactMap(FileIdentity.of(path:)))
    }

    /// Resolves each output's writer and checks its options and target before any work.
    static func prepareOutputs(
        _ outputs: [MergeOutput], extraTargets: [String], overwrite: Bool, protecting inputs: Set<FileIdentity>,
        registry: FormatRegistry
    ) throws -> [any FormatPlugin] {
        let writers = try outputs.map { try registry.writerPlugin(for: $0.path, explicit: $0.format) }
        for (output, writer) in zip(outputs, writers) { try writer.checkWriteOptions(output.writerOptions.keys) }
        let check = OutputTransaction(overwrite: overwrite, protecting: inputs)
        for path in outputs.map(\.path) + extraTargets { try check.checkTarget(path) }
        return writers
    }

    /// Writes every output after the first by converting the first, which `writer` wrote.
    static func convertFurtherOutputs(
        _ outputs: [MergeOutput], writtenBy writer: any FormatPlugin, overwrite: Bool,
        warn: @escaping @Sendable (String) -> Void,
        registry: FormatRegistry
    ) throws -> [String] {
        guard let first = outputs.first else { return [] }
        var files: [String] = []
        for output in outputs.dropFirst() {
            files += try convert(
                first.path, to: output.path,
                options: ConversionOptions(
                    inputFormat: writer.identifier, outputFormat: output.format, dtype: output.dtype,
                    overwrite: overwrite,
                    maximumShardBytes: output.maximumShardBytes, writerOptions: output.writerOptions, warn: warn),
                registry: registry
            ).files
        }
        return files
    }

    /// Writes `document` as indented JSON to `path`, atomically.
    static func writeJSON(_ document: JSONValue, to path: String, overwrite: Bool, protecting inputs: Set<FileIdentity>)
        throws
    {
        let transaction = OutputTransaction(overwrite: overwrite, protecting: inputs)
        try transaction.create(path).write(document.serialized(pretty: true) + "\n")
        try transaction.commit()
    }
}
