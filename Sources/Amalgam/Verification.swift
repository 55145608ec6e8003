import Synchronization

/// The result of loading one tensor completely.
public struct TensorVerification: Sendable {
    public var name: String
    /// NaN and infinite values (nil for non-floating dtypes); quantised tensors are decoded.
    public var nonFinite: Int?
}

extension InspectionReport {
    /// Loads every tensor's bytes (checking CRCs, inflating, reordering, as the format
    /// requires), decodes quantised blocks, and counts non-finite values of floating-point
    /// tensors, several tensors at once on the threads of `parallelism`. After an error no new
    /// tensor is started, and the first error in model order among those read is thrown.
    public func verify(parallelism: Parallelism = .current) throws -> [TensorVerification] {
        try Self.check(graph.tensors, stoppingAtFirstError: true, parallelism: parallelism).compactMap { try $0?.get() }
    }

    /// Each tensor's check, in model order; nil for tensors not started after an error when
    /// `stoppingAtFirstError`.
    static func check(
        _ tensors: [Tensor], stoppingAtFirstError: Bool, parallelism: Parallelism
    ) -> [Result<TensorVerification, any Error>?] {
        let results = Mutex([Result<TensorVerification, any Error>?](repeating: nil, count: tensors.count))
        let failed = Atomic<Bool>(false)
        parallelism.forEach(tensors.count) { index in
            guard !(stoppingAtFirstError && failed.load(ordering: .relaxed)) else { return }
            let result = Result { try Self.verify(tensors[index]) }
            if case .failure = result { failed.store(true, ordering: .relaxed) }
            results.withLock { $0[index] = result }
        }
        return results.withLock { $0 }
    }

    private static func verify(_ tensor: Tensor) throws -> TensorVerification {
        // Done with its pages once checked: peak memory follows the tensors in flight.
        defer { tensor.storage.mappedRegion?.releaseResidentPages() }
        return try AmalgamError.withContext(tensor: tensor.name) {
            let verification = try countNonFinite(tensor)
            // Zeros read from a file truncated meanwhile are not the file's values.
            try tensor.storage.mappedFile?.checkIntact()
            return verification
        }
    }

    private static func countNonFinite(_ tensor: Tensor) throws -> TensorVerification {
        let bytes = try tensor.loadBytes()
        if case .quantized = tensor.encoding {
            // Decoding is the only way to know the blocks hold numbers.
            let values = try tensor.encoding.decodeToFloat(bytes, elementCount: tensor.shape.elementCount)
            return TensorVerification(name: tensor.name, nonFinite: values.reduce(0) { $0 + ($1.isFinite ? 0 : 1) })
        }
        guard let dtype = tensor.encoding.dtype, dtype.isFloatingPoint else {
            return TensorVerification(name: tensor.name, nonFinite: nil)
        }
        let count = tensor.shape.elementCount
        let nonFinite = bytes.withUnsafeBytes { raw -> Int in
            var total = 0
            switch dtype {
            case .f32:
                for i in 0..<count
                where raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) & 0x7F80_0000 == 0x7F80_0000 {
                    total += 1
                }
            case .f16:
                for i in 0..<count
                where raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7C00 == 0x7C00 { total += 1 }
            case .bf16:
                for i in 0..<count
                where raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) & 0x7F80 == 0x7F80 { total += 1 }
            default:
                for i in 0..<count where !ElementConversion.loadDouble(raw.baseAddress!, as: dtype, at: i).isFinite {
                    total += 1
                }
            }
            return total
        }
        return TensorVerification(name: tensor.name, nonFinite: nonFinite)
    }
}

/// What `amalgam verify` finds in one file: every broken rule of its format, every tensor
/// whose bytes cannot be loaded (a CRC, an inflate, a file shorter than its header says)
/// and, when strict, what readers tolerate but the reference writer never writes, NaN and
/// infinite values included.
public struct FileVerification: Sendable {
    public let path: String
    /// The format's identifier, nil when it could not be told.
    public private(set) var format: String?
    public let strict: Bool
    /// Broken rules and unreadable tensors, in file order.
    public private(set) var faults: [AmalgamError] = []
    /// Departures from the reference writer (collected in strict mode only).
    public private(set) var departures: [AmalgamError] = []
    /// Tensors in the file (nil when its structure could not be read) and tensors read completely.
    public private(set) var tensorCount: Int?
    public private(set) var tensorsRead = 0
    /// Tensors holding NaN or infinite values, with their counts, in model order.
    public private(set) var nonFinite: [(name: String, count: Int)] = []

    /// What makes the file fail: its faults, and its departures when strict.
    public var problems: [AmalgamError] { faults + departures }

    /// Checks the file at `path`. Its tensors are loaded (several at once on the threads of
    /// `parallelism`) only when its structure is sound, since a broken structure leaves
    /// their bytes unlocated.
    public init(
        path: String, format: String? = nil, strict: Bool = false, read: ReadOptions = ReadOptions(),
        registry: FormatRegistry = Amalgam.builtInFormats, parallelism: Parallelism = .current
    ) {
        self.path = path
        self.strict = strict
        let reader: any FormatReader
        do { reader = try registry.reader(for: path, explicit: format) } catch {
            faults = [AmalgamError.attributed(error, file: path)]
            return
        }
        self.format = reader.identifier
        // A zstd-compressed file is checked as its decompressed copy is read.
        let compressed = !FileSystem.isFolder(path) && Zstd.isFrame(SystemCall.readPrefix(of: path, count: 4))
        if !compressed {
            let audit = reader.audit(path, options: read, strict: strict)
            faults = audit.faults
            departures = audit.departures
            guard faults.isEmpty else { return }
        }
        let graph: ModelGraph
        do {
            graph =
                compressed
                ? try registry.read(path, explicit: format, options: read).graph : try reader.load(path, options: read)
        } catch {
            faults = [AmalgamError.attributed(error, file: path)]
            return
        }
        tensorCount = graph.tensors.count
        let results = InspectionReport.check(graph.tensors, stoppingAtFirstError: false, parallelism: parallelism)
        for (tensor, result) in zip(graph.tensors, results) {
            switch result {
            case .success(let check)?:
                tensorsRead += 1
                guard let count = check.nonFinite, count > 0 else { continue }
                nonFinite.append((tensor.name, count))
                if strict {
                    departures.append(
                        AmalgamError(
                            .invalidFormat, "\(count) NaN or infinite value\(count == 1 ? "" : "s")", file: path,
                            tensor: tensor.name))
                }
            case .failure(let error)?: faults.append(AmalgamError.attributed(error, file: path, tensor: tensor.name))
            case nil: break
            }
        }
    }

    /// The result as JSON: file, format, counts, and each problem with its kind
    /// (`fault` or `departure`), code, tensor, offset and message.
    public var json: JSONValue {
        func entry(_ error: AmalgamError, kind: String) -> JSONValue {
            var members: [(String, JSONValue)] = [("kind", .string(kind)), ("code", .string(error.code.rawValue))]
            if let tensor = error.context.tensor { members.append(("tensor", .string(tensor))) }
            if let offset = error.context.offset { members.append(("offset", .integer(Int(offset)))) }
            members.append(("message", .string(error.message)))
            members.append(("line", .string(error.description)))
            return .object(members)
        }
        return .object([
            ("file", .string(path)), ("format", format.map { .string($0) } ?? .null),
            ("ok", .bool(problems.isEmpty)),
            ("tensors", tensorCount.map { .integer($0) } ?? .null), ("tensors_read", .integer(tensorsRead)),
            ("non_finite", .object(nonFinite.map { ($0.name, .integer($0.count)) })),
            (
                "problems",
                .array(faults.map { entry($0, kind: "fault") } + departures.map { entry($0, kind: "departure") })
            ),
        ])
    }
}
