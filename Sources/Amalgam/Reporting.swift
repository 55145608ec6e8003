import Reports

extension Amalgam {
    /// Renders the JSON reports at `paths` (merge reports, tuning or training logs, the
    /// transfer benchmark's JSON) as one self-contained HTML page at `output`, written
    /// atomically; inputs are never overwritten.
    /// - Returns: the page's path.
    @discardableResult
    public static func renderReports(_ paths: [String], to output: String, overwrite: Bool = false) throws -> String {
        guard !paths.isEmpty else { throw AmalgamError(.usage, "missing REPORT.json") }
        let outputs = OutputSet(overwrite: overwrite, protecting: identities(of: paths))
        try outputs.reserve(output)
        let documents = try paths.map { path in (label: path, json: try readJSON(path)) }
        try outputs.create(output).write(try ReportPage.html(documents))
        try outputs.commit()
        return output
    }

    /// A JSON file, parsed; errors name the file and the byte offset.
    static func readJSON(_ path: String) throws -> JSONValue {
        let file = try MappedFile(path: path)
        return try AmalgamError.withContext(file: path) {
            do {
                return try file.region.withUnsafeBytes { (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }
            } catch let error as AmalgamError {
                throw AmalgamError(.invalidFormat, "not JSON: \(error.message)", offset: error.context.offset)
            }
        }
    }
}
