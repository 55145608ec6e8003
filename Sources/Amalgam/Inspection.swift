/// A summary of a model file: what `amalgam inspect` prints.
public struct InspectionReport: Sendable {
    public let path: String
    public let format: String
    public let graph: ModelGraph

    /// Reads the headers of `path` (tensor bytes are not touched).
    public init(
        path: String, format: String? = nil, read: ReadOptions = ReadOptions(),
        registry: FormatRegistry = Amalgam.builtInFormats
    ) throws {
        let (plugin, graph) = try registry.read(path, explicit: format, options: read)
        self.path = path
        self.format = plugin.identifier
        self.graph = graph
    }

    /// Tensors, parameters and bytes per encoding, in a stable order.
    public var encodingHistogram: [(encoding: String, tensors: Int, parameters: Int, bytes: Int)] {
        var counts: [String: (tensors: Int, parameters: Int, bytes: Int)] = [:]
        for tensor in graph.tensors {
            let key = tensor.encoding.description
            let (t, p, b) = counts[key] ?? (0, 0, 0)
            counts[key] = (t + 1, p + tensor.shape.elementCount, b + ((try? tensor.byteCount) ?? 0))
        }
        return counts.keys.sorted().map { ($0, counts[$0]!.tensors, counts[$0]!.parameters, counts[$0]!.bytes) }
    }

    /// Arrays longer than this are summarised (count and first elements) in the report.
    static let arraySummaryLength = 16

    /// A metadata value for the report: long arrays become their length and first elements.
    static func summarised(_ value: MetadataValue) -> JSONValue {
        guard case .array(let elements) = value, elements.count > arraySummaryLength else { return JSONValue(value) }
        return .object([
            ("array_length", .integer(elements.count)),
            ("first", .array(elements.prefix(arraySummaryLength).map { JSONValue($0) })),
        ])
    }

    /// One line of text for a metadata value, at most about 100 characters.
    static func summaryText(_ value: MetadataValue) -> String {
        var text: String
        if case .array(let elements) = value, elements.count > arraySummaryLength {
            let kind: String = {
                switch elements[0] {
                case .string: "string"
                case .f32, .f64: "float"
                case .bool: "bool"
                default: "integer"
                }
            }()
            let head = elements.prefix(4).map { JSONValue($0).serialized() }.joined(separator: ", ")
            text = "[\(grouped(elements.count)) \(kind)s: \(head), ...]"
        } else {
            text = value.description
        }
        if text.count > 100 { text = String(text.prefix(97)) + "..." }
        return text
    }

    public var totalBytes: Int { graph.tensors.reduce(0) { $0 + ((try? $1.byteCount) ?? 0) } }

    /// The stable machine-readable document (`schema` names its version).
    public var json: JSONValue {
        let tensors = graph.tensors.map { tensor -> JSONValue in
            let position = LayerPosition(name: tensor.name)
            return .object([
                ("name", .string(tensor.name)),
                ("original_name", .string(tensor.originalName)),
                ("dtype", .string(tensor.encoding.description)),
                ("shape", .array(tensor.shape.dimensions.map { .integer($0) })),
                ("bytes", .integer((try? tensor.byteCount) ?? 0)),
                ("block", position.block.map { .integer($0) } ?? .null),
                ("role", .string(position.role.rawValue)),
            ])
        }
        return .object([
            ("schema", .string("amalgam.inspect/1")),
            ("file", .string(path)),
            ("format", .string(format)),
            ("tensor_count", .integer(graph.tensors.count)),
            ("parameter_count", .integer(graph.parameterCount)),
            ("byte_count", .integer(totalBytes)),
            (
                "dtypes",
                .object(
                    encodingHistogram.map {
                        (
                            $0.encoding,
                            .object([
                                ("tensors", .integer($0.tensors)), ("parameters", .integer($0.parameters)),
                                ("bytes", .integer($0.bytes)),
                            ])
                        )
                    })
            ),
            (
                "architecture",
                .object([
                    ("name", graph.architecture.name.map { .string($0) } ?? .null),
                    ("parameters", .object(graph.architecture.parameters.map { ($0.key, JSONValue($0.value)) })),
                ])
            ),
            ("metadata", .object(graph.metadata.map { ($0.key, Self.summarised($0.value)) })),
            ("notes", .array(graph.notes.map { .string($0) })),
            ("tensors", .array(tensors)),
        ])
    }

    /// Human-readable text, one fact per line, tensors as an aligned table.
    public var text: String { text(verdict: nil) }

    /// The text with `verdict` (what `--verify` found) after the summary, before the metadata
    /// and the tensor table, where it is seen.
    public func text(verdict: String?) -> String {
        var lines: [String] = []
        lines.append(path)
        lines.append("  format:      \(format)")
        lines.append("  tensors:     \(graph.tensors.count)")
        lines.append("  parameters:  \(Self.grouped(graph.parameterCount))")
        lines.append("  data:        \(ByteSize.format(totalBytes)) (\(Self.grouped(totalBytes)) bytes)")
        let histogram = encodingHistogram.map {
            "\($0.encoding) \($0.tensors) (\(Self.grouped($0.parameters)) params, \(ByteSize.format($0.bytes)))"
        }
        lines.append("  dtypes:      " + (histogram.isEmpty ? "none" : histogram.joined(separator: ", ")))
        if let name = graph.architecture.name {
            let parameters = graph.architecture.parameters.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            lines.append("  architecture: \(name)" + (parameters.isEmpty ? "" : "  \(parameters)"))
        }
        for note in graph.notes { lines.append("  note:        \(note)") }
        if let verdict { lines.append(verdict) }
        lines.append("  metadata:    \(graph.metadata.count) key\(graph.metadata.count == 1 ? "" : "s")")
        for entry in graph.metadata {
            lines.append("    \(entry.key) = \(Self.summaryText(entry.value))")
        }
        let renamed = graph.tensors.contains { $0.name != $0.originalName }
        var header = ["name", "dtype", "shape", "bytes", "role"]
        if renamed { header.insert("original name", at: 1) }
        var rows = [header]
        for tensor in graph.tensors {
            let position = LayerPosition(name: tensor.name)
            var row = [
                tensor.name, tensor.encoding.description, tensor.shape.description,
                Self.grouped((try? tensor.byteCount) ?? 0), position.role.rawValue,
            ]
            if renamed { row.insert(tensor.originalName, at: 1) }
            rows.append(row)
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        lines.append("  tensors:")
        for row in rows {
            let cells = row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }
            lines.append("    " + cells.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }

    /// `1234567` -> `1,234,567`.
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result += "," }
            result.append(digit)
        }
        return (value < 0 ? "-" : "") + result
    }
}
