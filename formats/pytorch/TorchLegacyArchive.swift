import AmalgamCore

/// `torch.save` before PyTorch 1.6 (and `_use_new_zipfile_serialization=False` since): five
/// pickles and the storages' bytes in one stream — the magic number, the protocol version
/// (1001), a sys_info dict (`little_endian`, type sizes), the object (storages as persistent ids
/// `('storage', type, key, location, numel, view)`), the sorted list of storage keys; then per key
/// an int64 element count and the elements. Storages are slices of the map.
extension TorchArchive {
    static func readLegacy(_ file: ByteRegion) throws -> (tensors: [Tensor], notes: [String]) {
        try file.withUnsafeBytes { (bytes) throws -> (tensors: [Tensor], notes: [String]) in
            // The magic number is a 10-byte LONG1, beyond PickleMachine's 64-bit integers: matched whole.
            var position = legacyMagic.count
            guard bytes.count > position, bytes[position] == UInt8(ascii: ".") else {
                throw AmalgamError(.invalidFormat, "legacy torch.save magic number is not a whole pickle", offset: 0)
            }
            position += 1
            /// Runs the pickle at `position` and hands its value to `use` (the machine's containers
            /// released after).
            func pickle<T>(
                _ what: String, load: @escaping PickleMachine.PersistentLoad,
                _ use: (PickleValue) throws(AmalgamError) -> T = { (_) throws(AmalgamError) in () }
            ) throws(AmalgamError) -> T {
                var machine = PickleMachine(
                    UnsafeRawBufferPointer(rebasing: bytes[position...]), base: position, member: what,
                    persistentLoad: load)
                defer { machine.release() }
                let value = try machine.run()
                position += machine.position
                return try use(value)
            }
            let noStorages: PickleMachine.PersistentLoad = { (_) throws(AmalgamError) -> PickleValue in
                throw AmalgamError(.invalidFormat, "a storage outside the object pickle")
            }
            let version = try pickle("the protocol version", load: noStorages) { $0.intValue }
            guard version == 1001 else {
                throw AmalgamError(
                    .unsupported, "legacy torch.save protocol version is not 1001", offset: UInt64(position))
            }
            let bigEndian = try pickle("sys_info", load: noStorages) { (info) throws(AmalgamError) -> Bool in
                guard case .dict(let entries) = info else { return false }
                for (key, value) in entries.entries {
                    if case .string("little_endian") = key, case .bool(let little) = value { return !little }
                }
                return false
            }
            // The object, first with storages whose bytes are not yet located (their dtypes and
            // sizes recorded), then again once the data section has been walked.
            let objectStart = position
            nonisolated(unsafe) var declared: [String: (dtype: DType, count: Int)] = [:]
            let record: PickleMachine.PersistentLoad = { (id) throws(AmalgamError) -> PickleValue in
                let (key, dtype, count) = try legacyStorageID(id)
                declared[key] = (dtype, count)
                return .storage(
                    TorchStorage(
                        key: key, dtype: dtype, region: ByteRegion(copying: []), declaredCount: count, isLocated: false)
                )
            }
            let _: Void = try pickle("the object pickle", load: record)
            let keysOffset = position
            guard let keys = try pickle("the storage keys", load: noStorages, { $0.sequence }) else {
                throw AmalgamError(.invalidFormat, "legacy storage keys are not a list", offset: UInt64(keysOffset))
            }
            var regions: [String: ByteRegion] = [:]
            for key in keys {
                guard case .string(let name) = key, let (dtype, _) = declared[name] else {
                    throw AmalgamError(
                        .invalidFormat, "storage key \(key) is not one the object uses", offset: UInt64(keysOffset))
                }
                guard bytes.count - position >= 8 else {
                    throw AmalgamError(.invalidFormat, "truncated before storage '\(name)'", offset: UInt64(position))
                }
                var raw = bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)
                raw = bigEndian ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw)
                let (length, overflow) = Int(clamping: raw).multipliedReportingOverflow(by: dtype.byteWidth)
                guard raw <= UInt64(Int.max), !overflow, length <= bytes.count - position - 8 else {
                    throw AmalgamError(
                        .invalidFormat,
                        "storage '\(name)' declares \(raw) elements, more than the \(bytes.count - position - 8) bytes left hold",
                        offset: UInt64(position))
                }
                regions[name] = file.slice(offset: position + 8, count: length)
                position += 8 + length
            }
            let locate: PickleMachine.PersistentLoad = { (id) throws(AmalgamError) -> PickleValue in
                let (key, dtype, count) = try legacyStorageID(id)
                guard let region = regions[key] else {
                    throw AmalgamError(.invalidFormat, "storage '\(key)' is not in the file's list of storages")
                }
                guard count * dtype.byteWidth <= region.count else {
                    throw AmalgamError(
                        .invalidFormat,
                        "storage '\(key)' declares \(count) elements, but \(region.count) bytes are stored")
                }
                return .storage(TorchStorage(key: key, dtype: dtype, region: region, declaredCount: count))
            }
            position = objectStart
            return try pickle("the object pickle", load: locate) { (object) throws(AmalgamError) in
                try collect(object, bigEndian: bigEndian)
            }
        }
    }

    /// `('storage', storage type, key, location, numel, view metadata)`; views of other
    /// storages (the view metadata of torch before 0.4) are refused.
    static func legacyStorageID(_ id: PickleValue) throws(AmalgamError) -> (String, DType, Int) {
        guard let items = id.sequence, items.count == 6, case .string("storage") = items[0],
            case .global(.storageType(let dtype?)) = items[1], case .string(let key) = items[2],
            let count = items[4].intValue, count >= 0
        else {
            throw AmalgamError(
                .invalidFormat,
                "persistent id \(id.typeName) is not a legacy storage ('storage', type, key, location, size, view)")
        }
        guard case .none = items[5] else {
            throw AmalgamError(.unsupported, "storage '\(key)' is a view of another storage (torch before 0.4)")
        }
        return (key, dtype, Int(count))
    }
}
