import AmalgamCore

/// Opens the files that `data_location: EXTERNAL` tensors point into, enforcing ONNX's
/// path rules against traversal (CVE-2022-25882, CVE-2024-27318): the location must be a
/// relative path inside the model's folder, without `..` components, and must still lie
/// inside that folder once symbolic links are resolved. Each file is mapped once.
final class ExternalDataFiles {
    let modelPath: String
    let folder: String
    /// Files not yet at their paths (`ReadOptions.stagedFiles`).
    let staged: [String: String]
    private var files: [String: MappedFile] = [:]

    init(modelPath: String, staged: [String: String] = [:]) {
        self.modelPath = modelPath
        self.folder = FileSystem.folder(of: modelPath)
        self.staged = staged
    }

    /// The bytes `[offset, offset + length)` of `location`; `length` defaults to the
    /// tensor's size and must equal it when given.
    func region(location: String?, offset: String?, length: String?, expectedBytes: Int) throws(AmalgamError)
        -> ByteRegion
    {
        guard let location, !location.isEmpty else {
            throw AmalgamError(.invalidFormat, "external data without a 'location'", file: modelPath)
        }
        let file = try mapped(location)
        func number(_ text: String?, _ key: String) throws(AmalgamError) -> Int? {
            guard let text else { return nil }
            guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(text) else {
                throw AmalgamError(
                    .invalidFormat, "external data '\(key)' is not a decimal byte count: '\(text)'", file: modelPath)
            }
            return value
        }
        let start = try number(offset, "offset") ?? 0
        let count = try number(length, "length") ?? expectedBytes
        guard count == expectedBytes else {
            throw AmalgamError(
                .invalidFormat,
                "external data length \(count) does not match the \(expectedBytes) bytes the tensor needs",
                file: modelPath)
        }
        guard start <= file.size, count <= file.size - start else {
            throw AmalgamError(
                .invalidFormat,
                "external data [\(start), \(start) + \(count)) lies outside '\(location)' (\(file.size) bytes)",
                file: modelPath)
        }
        return file.region.slice(offset: start, count: count)
    }

    private func mapped(_ location: String) throws(AmalgamError) -> MappedFile {
        if let file = files[location] { return file }
        try Self.checkLocation(location, modelPath: modelPath)
        let path = folder + "/" + location
        if let temporary = staged[path] {
            let file = try MappedFile(path: temporary)
            files[location] = file
            return file
        }
        guard let resolved = SystemCall.resolvedPath(path) else {
            throw AmalgamError(.notFound, "external data file '\(location)' does not exist", file: modelPath)
        }
        guard let root = SystemCall.resolvedPath(folder), resolved.hasPrefix(root == "/" ? "/" : root + "/") else {
            throw AmalgamError(
                .invalidFormat,
                "external data location '\(location)' leads outside the model's folder (through a symbolic link)",
                file: modelPath)
        }
        let file = try MappedFile(path: resolved)
        files[location] = file
        return file
    }

    /// The syntactic rules: relative, no `..`, no backslashes or NUL.
    static func checkLocation(_ location: String, modelPath: String) throws(AmalgamError) {
        if location.hasPrefix("/") {
            throw AmalgamError(
                .invalidFormat,
                "external data location '\(location)' is an absolute path; it must be relative to the model's folder",
                file: modelPath)
        }
        if location.contains("\\") || location.utf8.contains(0) || location.contains(":") {
            throw AmalgamError(
                .invalidFormat, "external data location '\(location)' contains a backslash, colon or NUL",
                file: modelPath)
        }
        if location.split(separator: "/", omittingEmptySubsequences: false).contains("..") {
            throw AmalgamError(
                .invalidFormat,
                "external data location '\(location)' contains '..'; it must stay inside the model's folder",
                file: modelPath)
        }
    }
}
