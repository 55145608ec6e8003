/// The manifest of one part of a sharded merge (`part-0001-of-0004.json` beside its tensor
/// and factor files): which merge it belongs to (the plan hash), what it computed, and each
/// tensor's report entry, so that `amalgam assemble` can check the parts against each other
/// and against the inputs and write what one machine would have written.
public struct ShardManifest: Sendable {
    public static let schema = "amalgam.merge-shard/1"

    /// This part's number, from 0, and how many parts the merge has.
    public var index: Int
    public var count: Int
    /// Hash of what decides the merged values (see `ShardPlan.hash`).
    public var planHash: String
    /// The merge's command-line options (without `--shard` and `--parts`): assembling reads
    /// them again, so the parts need nothing else to be assembled.
    public var arguments: [String]
    public var inputs: [InputFingerprint]
    /// The tensor file and the factor file (nil when no tensor kept factors), by name, in
    /// the manifest's folder.
    public var tensorsFile: String
    public var factorsFile: String?
    /// Whether the part kept factors for every merged matrix (the merge wanted them) and
    /// the report's spectra.
    public var computedFactors: Bool
    public var computedSpectra: Bool
    /// This part's tensors, in model order, with their report entries.
    public var tensors: [String]
    public var reports: [String: JSONValue]
    public var noiseEdges: [String: Float]
    /// Which sources differed from the base in this part's tensors.
    public var changedSources: [Bool]
    /// Where the manifest was read from (empty for one being written).
    public var path = ""

    /// `part-0001-of-0004`: the stem of part `index`'s files (numbered from 1, as Slurm's
    /// output files are not, so that names sort in order).
    public static func stem(index: Int, count: Int) -> String {
        let width = max(4, String(count).count)
        func padded(_ value: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: width - text.count) + text
        }
        return "part-\(padded(index + 1))-of-\(padded(count))"
    }

    public var json: JSONValue {
        .object([
            ("schema", .string(Self.schema)),
            ("plan_hash", .string(planHash)),
            ("shard", .object([("index", .integer(index)), ("count", .integer(count))])),
            ("arguments", .array(arguments.map { .string($0) })),
            ("inputs", .array(inputs.map(\.json))),
            ("tensors_file", .string(tensorsFile)),
            ("factors_file", factorsFile.map { .string($0) } ?? .null),
            ("computed", .object([("factors", .bool(computedFactors)), ("spectra", .bool(computedSpectra))])),
            ("changed_sources", .array(changedSources.map { .bool($0) })),
            (
                "tensors",
                .array(
                    tensors.map { name in
                        var fields: [(key: String, value: JSONValue)] = [
                            ("name", .string(name)), ("report", reports[name] ?? .null),
                        ]
                        if let edge = noiseEdges[name] { fields.append(("noise_edge", .number("\(edge)"))) }
                        return .object(fields)
                    })
            ),
        ])
    }

    public init(
        index: Int, count: Int, planHash: String, arguments: [String], inputs: [InputFingerprint],
        tensorsFile: String, factorsFile: String?, computedFactors: Bool, computedSpectra: Bool, tensors: [String],
        reports: [String: JSONValue], noiseEdges: [String: Float], changedSources: [Bool]
    ) {
        self.index = index
        self.count = count
        self.planHash = planHash
        self.arguments = arguments
        self.inputs = inputs
        self.tensorsFile = tensorsFile
        self.factorsFile = factorsFile
        self.computedFactors = computedFactors
        self.computedSpectra = computedSpectra
        self.tensors = tensors
        self.reports = reports
        self.noiseEdges = noiseEdges
        self.changedSources = changedSources
    }

    /// Reads the manifest at `path`. - Throws: `.invalidFormat` naming the file and the key.
    public init(reading path: String) throws(AmalgamError) {
        let file = try MappedFile(path: path)
        let json: JSONValue
        do {
            json = try file.region.withUnsafeBytes { (bytes) throws(AmalgamError) in try JSONParser.parse(bytes) }
        } catch { throw error.adding(file: path) }
        func fail(_ key: String) -> AmalgamError {
            AmalgamError(.invalidFormat, "not a shard manifest: '\(key)' is missing or malformed", file: path)
        }
        guard json["schema"]?.stringValue == Self.schema else {
            throw AmalgamError(
                .invalidFormat, "not a shard manifest (schema is not \(Self.schema))", file: path)
        }
        guard let hash = json["plan_hash"]?.stringValue else { throw fail("plan_hash") }
        guard let index = json["shard"]?["index"]?.uint64Value, let count = json["shard"]?["count"]?.uint64Value,
            count >= 1, index < count, count <= 100_000
        else { throw fail("shard") }
        guard let arguments = json["arguments"]?.arrayValue?.compactMap({ $0.stringValue }) else {
            throw fail("arguments")
        }
        guard let inputs = json["inputs"]?.arrayValue?.compactMap({ InputFingerprint(json: $0) }) else {
            throw fail("inputs")
        }
        guard let tensorsFile = json["tensors_file"]?.stringValue, !tensorsFile.contains("/") else {
            throw fail("tensors_file")
        }
        let factorsFile = json["factors_file"]?.stringValue
        if factorsFile?.contains("/") == true { throw fail("factors_file") }
        func flag(_ value: JSONValue?) -> Bool? {
            if case .bool(let flag)? = value { return flag }
            return nil
        }
        guard let factors = flag(json["computed"]?["factors"]), let spectra = flag(json["computed"]?["spectra"]) else {
            throw fail("computed")
        }
        let flags = (json["changed_sources"]?.arrayValue ?? [.null]).map { flag($0) }
        guard !flags.contains(where: { $0 == nil }) else { throw fail("changed_sources") }
        let changed = flags.map { $0! }
        guard let entries = json["tensors"]?.arrayValue else { throw fail("tensors") }
        var names: [String] = []
        var reports: [String: JSONValue] = [:]
        var edges: [String: Float] = [:]
        for entry in entries {
            guard let name = entry["name"]?.stringValue, let report = entry["report"], reports[name] == nil else {
                throw fail("tensors")
            }
            names.append(name)
            reports[name] = report
            if let text = entry["noise_edge"]?.doubleValue { edges[name] = Float(text) }
        }
        self.init(
            index: Int(index), count: Int(count), planHash: hash, arguments: arguments, inputs: inputs,
            tensorsFile: tensorsFile, factorsFile: factorsFile, computedFactors: factors, computedSpectra: spectra,
            tensors: names, reports: reports, noiseEdges: edges, changedSources: changed)
        self.path = path
    }

    /// The folder the manifest is in (its files are beside it).
    public var folder: String { FileSystem.folder(of: path) }
}

/// What identifies an input without reading all of it: its size and a hash of its first
/// MiB (the header, for every format Amalgam reads); for a folder, those of each file in it.
public struct InputFingerprint: Sendable, Equatable {
    public var path: String
    public var bytes: Int
    public var headHash: String

    static let headBytes = 1 << 20

    public init(path: String, bytes: Int, headHash: String) {
        self.path = path
        self.bytes = bytes
        self.headHash = headHash
    }

    /// The fingerprint of the file or folder at `path`.
    public init(of path: String) throws(AmalgamError) {
        var hash = FNV1a()
        var bytes = 0
        let files =
            FileSystem.isFolder(path)
            ? FileSystem.list(path).filter { !$0.hasPrefix(".") }.sorted().map { (path + "/" + $0, $0) }
            : [(path, "")]
        for (file, name) in files {
            guard let status = try? SystemCall.status(of: file), status.kind == .regular else { continue }
            hash.add(Array(name.utf8) + [0])
            hash.add(Array(String(status.size).utf8) + [0])
            hash.add(SystemCall.readPrefix(of: file, count: Self.headBytes))
            bytes += status.size
        }
        self.init(path: path, bytes: bytes, headHash: hash.hex)
    }

    var json: JSONValue {
        .object([("path", .string(path)), ("bytes", .integer(bytes)), ("head_fnv1a64", .string(headHash))])
    }

    init?(json: JSONValue) {
        guard let path = json["path"]?.stringValue, let bytes = json["bytes"]?.uint64Value,
            let hash = json["head_fnv1a64"]?.stringValue
        else { return nil }
        self.init(path: path, bytes: Int(bytes), headHash: hash)
    }
}

/// 64-bit FNV-1a: a fast, stable hash for recognising the same bytes again (not a
/// cryptographic one: it guards against mistakes, not against attacks).
struct FNV1a {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ bytes: [UInt8]) {
        for byte in bytes { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
    }

    mutating func add(_ text: String) { add(Array(text.utf8) + [0]) }

    var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
