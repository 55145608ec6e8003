import AmalgamCore

/// What a zoo folder holds (`manifest.json`): the base, and per task its label count, data
/// files and fine-tuned source (paths relative to the folder).
public struct ZooManifest: Sendable, Equatable {
    public struct Task: Sendable, Equatable {
        public let name: String
        public let summary: String
        public let classes: Int
        public let train: String
        public let test: String
        public let source: String
        /// How the source is stored (`safetensors`, `gguf Q8_0`, `onnx`...).
        public let storage: String
        /// The source's accuracy on its own test set.
        public let sourceAccuracy: Double
    }

    public static let schema = "amalgam.zoo/1"
    public static let fileName = "manifest.json"

    public let family: ZooFamily
    public let size: ZooSize
    public let seed: UInt64
    public let base: String
    /// How the base was pre-trained (`rotation prediction ...`, or the model it was read from).
    public let pretraining: String
    public let tasks: [Task]
    /// Settings the architecture needs (`heads`) and the tasks' input layout.
    public let heads: Int?

    public func task(named name: String) -> Task? { tasks.first { $0.name == name } }

    var json: JSONValue {
        .object([
            ("schema", .string(Self.schema)), ("family", .string(family.rawValue)), ("size", .string(size.rawValue)),
            ("seed", .integer(seed)), ("base", .string(base)), ("pretraining", .string(pretraining)),
            ("heads", heads.map { .integer($0) } ?? .null),
            (
                "tasks",
                .array(
                    tasks.map { task in
                        .object([
                            ("name", .string(task.name)), ("summary", .string(task.summary)),
                            ("classes", .integer(task.classes)), ("train", .string(task.train)),
                            ("test", .string(task.test)), ("source", .string(task.source)),
                            ("storage", .string(task.storage)),
                            ("source_accuracy", .number(Self.decimal(task.sourceAccuracy))),
                        ])
                    })
            ),
        ])
    }

    /// Accuracies with six decimals, so the manifest's bytes do not depend on float printing.
    static func decimal(_ value: Double) -> String {
        let scaled = Int64((value * 1e6).rounded())
        let whole = scaled / 1_000_000
        let fraction = String(abs(scaled % 1_000_000))
        return
            "\(scaled < 0 && whole == 0 ? "-" : "")\(whole).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
    }

    init(
        family: ZooFamily, size: ZooSize, seed: UInt64, base: String, pretraining: String, tasks: [Task], heads: Int?
    ) {
        self.family = family
        self.size = size
        self.seed = seed
        self.base = base
        self.pretraining = pretraining
        self.tasks = tasks
        self.heads = heads
    }

    /// Reads `folder/manifest.json`.
    /// - Throws: `.notFound` when the folder holds no zoo; `.invalidFormat` naming the key
    ///   that is missing or mistyped.
    public init(folder: String) throws {
        let path = folder + "/" + Self.fileName
        guard FileSystem.exists(path) else {
            throw AmalgamError(
                .notFound, "holds no zoo (no \(Self.fileName)); build one with 'amalgam zoo build'", file: folder)
        }
        let file = try MappedFile(path: path)
        let json = try file.region.withUnsafeBytes { try JSONParser.parse($0) }
        func fail(_ key: String, _ what: String) -> AmalgamError {
            AmalgamError(.invalidFormat, "'\(key)' must be \(what)", file: path)
        }
        func text(_ value: JSONValue?, _ key: String) throws -> String {
            guard let text = value?.stringValue else { throw fail(key, "a string") }
            return text
        }
        guard json["schema"]?.stringValue == Self.schema else { throw fail("schema", "'\(Self.schema)'") }
        guard let family = json["family"]?.stringValue.flatMap(ZooFamily.init(rawValue:)) else {
            throw fail("family", ZooFamily.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard let size = json["size"]?.stringValue.flatMap(ZooSize.init(rawValue:)) else {
            throw fail("size", ZooSize.allCases.map(\.rawValue).joined(separator: ", "))
        }
        guard let seed = json["seed"]?.uint64Value else { throw fail("seed", "an unsigned integer") }
        guard let tasks = json["tasks"]?.arrayValue, !tasks.isEmpty else { throw fail("tasks", "a non-empty array") }
        var read: [Task] = []
        for (index, task) in tasks.enumerated() {
            let key = "tasks[\(index)]"
            guard let classes = task["classes"]?.uint64Value, classes >= 2 else {
                throw fail(key + ".classes", "an integer of at least 2")
            }
            guard let accuracy = task["source_accuracy"]?.doubleValue else {
                throw fail(key + ".source_accuracy", "a number")
            }
            read.append(
                Task(
                    name: try text(task["name"], key + ".name"), summary: try text(task["summary"], key + ".summary"),
                    classes: Int(classes), train: try text(task["train"], key + ".train"),
                    test: try text(task["test"], key + ".test"), source: try text(task["source"], key + ".source"),
                    storage: try text(task["storage"], key + ".storage"), sourceAccuracy: accuracy))
        }
        self.init(
            family: family, size: size, seed: seed, base: try text(json["base"], "base"),
            pretraining: try text(json["pretraining"], "pretraining"), tasks: read,
            heads: json["heads"]?.uint64Value.map(Int.init))
    }
}
