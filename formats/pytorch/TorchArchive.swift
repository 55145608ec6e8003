import AmalgamCore

/// A checkpoint written by `torch.save` since PyTorch 1.6: a zip of stored members,
/// `PREFIX/data.pkl` (the pickled object), `PREFIX/data/KEY` (one per storage), `PREFIX/byteorder`.
/// The pickle is run by `PickleMachine` (nothing executed); its tensors become the graph's,
/// named by their keys (nested dicts joined with dots). Contiguous little-endian tensors are
/// slices of the map; views with other strides, and big-endian storages, are copied into
/// row-major little-endian order when loaded.
enum TorchArchive {
    /// `torch.save` before 1.6: a bare pickle starting with this magic number (protocol 2, LONG1 of 10 bytes).
    static let legacyMagic: [UInt8] = [
        0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19,
    ]

    /// Nested dicts deeper than this are not searched for tensors.
    static let maximumDepth = 16

    static func read(path: String) throws -> (tensors: [Tensor], notes: [String]) {
        try read(archive: try MappedFile(path: path).region)
    }

    /// The checkpoint held in `archive` (a mapped file, or bytes in memory).
    static func read(archive: ByteRegion) throws -> (tensors: [Tensor], notes: [String]) {
        let prefix = archive.count >= 16 ? archive.slice(offset: 0, count: 16).bytes : archive.bytes
        if prefix.starts(with: legacyMagic) { return try readLegacy(archive) }
        let directory = try archive.withUnsafeBytes { (bytes) throws(AmalgamError) in try ZipDirectory(bytes) }
        let pickles = directory.entries.filter { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }
        guard pickles.count == 1, let pickle = pickles.first else {
            throw AmalgamError(
                .invalidFormat,
                pickles.isEmpty
                    ? "zip archive without a data.pkl member: not a torch.save checkpoint"
                    : "zip archive with \(pickles.count) data.pkl members")
        }
        let root = String(pickle.name.dropLast("data.pkl".count))
        var members: [String: ZipEntry] = [:]
        for entry in directory.entries { members[entry.name] = entry }
        func stored(_ entry: ZipEntry) throws(AmalgamError) -> ByteRegion {
            guard entry.method == 0 else {
                throw AmalgamError(
                    .unsupported, "member '\(entry.name)' is compressed; torch.save stores its members uncompressed",
                    offset: UInt64(entry.localHeaderOffset))
            }
            return archive.slice(offset: entry.dataOffset, count: entry.compressedSize)
        }
        var bigEndian = false
        if let order = members[root + "byteorder"] {
            let text = String(decoding: try stored(order).bytes, as: UTF8.self)
            guard text == "little" || text == "big" else {
                throw AmalgamError(.invalidFormat, "byteorder member says '\(text)', not little or big")
            }
            bigEndian = text == "big"
        }
        let load: PickleMachine.PersistentLoad = { (id) throws(AmalgamError) -> PickleValue in
            guard let items = id.sequence, items.count == 5, case .string("storage") = items[0],
                case .global(.storageType(let dtype)) = items[1], case .string(let key) = items[2],
                let count = items[4].intValue, count >= 0
            else {
                throw AmalgamError(
                    .invalidFormat,
                    "persistent id \(id.typeName) is not a storage ('storage', type, key, location, size)")
            }
            guard !key.contains("/"), let entry = members[root + "data/" + key] else {
                throw AmalgamError(.invalidFormat, "storage '\(key)' names no member \(root)data/\(key) of the archive")
            }
            let region = try stored(entry)
            let (bytes, overflow) = Int(count).multipliedReportingOverflow(by: dtype?.byteWidth ?? 1)
            guard !overflow, bytes <= region.count else {
                throw AmalgamError(
                    .invalidFormat,
                    "storage '\(key)' declares \(count) elements, but its member holds \(region.count) bytes",
                    offset: UInt64(entry.dataOffset))
            }
            return .storage(TorchStorage(key: key, dtype: dtype, region: region, declaredCount: Int(count)))
        }
        let pickleBytes = try stored(pickle)
        return try pickleBytes.withUnsafeBytes { (bytes) throws(AmalgamError) in
            var machine = PickleMachine(bytes, base: pickle.dataOffset, member: pickle.name, persistentLoad: load)
            defer { machine.release() }
            return try collect(try machine.run(), bigEndian: bigEndian)
        }
    }

    /// The tensors of an unpickled object (a state_dict, or dicts nesting them), named by their
    /// keys joined with dots; other values left out with a note.
    static func collect(_ object: PickleValue, bigEndian: Bool) throws(AmalgamError) -> (
        tensors: [Tensor], notes: [String]
    ) {
        var tensors: [Tensor] = []
        var names = Set<String>()
        var skipped: [String] = []
        func collect(_ value: PickleValue, _ name: String, depth: Int) throws(AmalgamError) {
            switch value {
            case .tensor(let tensor):
                guard names.insert(name).inserted else {
                    throw AmalgamError(.invalidFormat, "two tensors are named '\(name)'")
                }
                tensors.append(try Self.tensor(tensor, name: name, bigEndian: bigEndian))
            case .dict(let dict) where depth < maximumDepth:
                for (key, item) in dict.entries {
                    let text: String
                    switch key {
                    case .string(let string): text = string
                    case .int(let number): text = String(number)
                    default: throw AmalgamError(.invalidFormat, "a dict key is a \(key.typeName), not a name")
                    }
                    try collect(item, name.isEmpty ? text : name + "." + text, depth: depth + 1)
                }
            default:
                skipped.append(name.isEmpty ? "the pickled \(value.typeName)" : name)
            }
        }
        try collect(object, "", depth: 0)
        var notes: [String] = []
        if !skipped.isEmpty {
            let shown = skipped.prefix(3).map { "'\($0)'" }.joined(separator: ", ") + (skipped.count > 3 ? ", ..." : "")
            notes.append(
                "left out \(skipped.count) value\(skipped.count == 1 ? "" : "s") that are not tensors (\(shown))")
        }
        return (tensors, notes)
    }

    /// The core tensor for a strided view: a zero-copy slice when it is row-major contiguous
    /// and little-endian, else a copy made when its bytes are loaded.
    static func tensor(_ view: TorchTensor, name: String, bigEndian: Bool) throws(AmalgamError) -> Tensor {
        let width = view.dtype.byteWidth
        let count = view.size.reduce(1, *)
        var contiguous = true
        var expected = 1
        for (length, step) in zip(view.size, view.stride).reversed() {
            if length != 1 && step != expected { contiguous = false }
            expected *= length
        }
        let shape = Shape(view.size)
        let encoding = TensorEncoding.plain(view.dtype)
        if count == 0 {
            return Tensor(name: name, shape: shape, encoding: encoding, storage: .region(ByteRegion(copying: [])))
        }
        // Complex numbers swap each of their two halves.
        let swapWidth = view.dtype.isComplex ? width / 2 : width
        if contiguous && (!bigEndian || swapWidth == 1) {
            let region = view.storage.region.slice(offset: view.offset * width, count: count * width)
            return Tensor(name: name, shape: shape, encoding: encoding, storage: .region(region))
        }
        let (source, offset, size, strides) = (view.storage.region, view.offset, view.size, view.stride)
        let (isContiguous, swapping) = (contiguous, bigEndian && swapWidth > 1)
        return Tensor(
            name: name, shape: shape, encoding: encoding,
            storage: .deferred {
                let region =
                    isContiguous
                    ? source.slice(offset: offset * width, count: count * width)
                    : ElementLayout.gathered(source, offset: offset, shape: size, strides: strides, width: width)
                return swapping ? ElementLayout.byteSwapped(region, width: swapWidth) : region
            })
    }
}
