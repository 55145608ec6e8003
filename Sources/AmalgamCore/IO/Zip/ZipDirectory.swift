/// Reads and validates the central directory of a zip archive held in memory (mapped).
///
/// Checks: an end record exists; ZIP64 records are consistent; every entry, local header
/// and data range lies inside the file and before the central directory; members do not
/// overlap; names are valid UTF-8 and unique; no encryption; methods are stored or deflate;
/// stored members have equal sizes. Sizes come from the central directory, so members
/// written with data descriptors read as any other.
public struct ZipDirectory: Sendable {
    public let entries: [ZipEntry]

    private static func u16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        b.loadUnaligned(fromByteOffset: at, as: UInt16.self).littleEndian
    }
    private static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        b.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian
    }
    private static func u64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        b.loadUnaligned(fromByteOffset: at, as: UInt64.self).littleEndian
    }

    public init(_ bytes: UnsafeRawBufferPointer) throws(AmalgamError) {
        let size = bytes.count
        func fail(_ message: String, at offset: Int) -> AmalgamError {
            AmalgamError(.invalidFormat, message, offset: UInt64(offset))
        }

        // End of central directory: 22 bytes plus a comment of up to 65535 bytes.
        var end = -1
        if size >= 22 {
            var candidate = size - 22
            let lowest = max(0, size - 22 - 65535)
            while candidate >= lowest {
                if Self.u32(bytes, candidate) == 0x0605_4B50
                    && candidate + 22 + Int(Self.u16(bytes, candidate + 20)) == size
                {
                    end = candidate
                    break
                }
                candidate -= 1
            }
        }
        guard end >= 0 else {
            throw fail(
                "no zip end-of-central-directory record: not a zip archive (.npz, torch.save), or truncated", at: size)
        }
        guard Self.u16(bytes, end + 4) == 0, Self.u16(bytes, end + 6) == 0 else {
            throw fail("multi-disk zip archives are not supported", at: end)
        }
        var count = UInt64(Self.u16(bytes, end + 10))
        var directorySize = UInt64(Self.u32(bytes, end + 12))
        var directoryOffset = UInt64(Self.u32(bytes, end + 16))
        var directoryLimit = end  // the central directory must end before this
        if end >= 20 && Self.u32(bytes, end - 20) == 0x0706_4B50 {
            let locator = end - 20
            let record64 = Self.u64(bytes, locator + 8)
            guard locator >= 56, record64 <= UInt64(locator - 56), Self.u32(bytes, Int(record64)) == 0x0606_4B50 else {
                throw fail("ZIP64 end-of-central-directory locator points to no ZIP64 record", at: locator)
            }
            let record = Int(record64)
            count = Self.u64(bytes, record + 32)
            directorySize = Self.u64(bytes, record + 40)
            directoryOffset = Self.u64(bytes, record + 48)
            directoryLimit = record
        } else if count == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            throw fail("end record defers to a ZIP64 record that is missing", at: end)
        }
        guard directoryOffset <= UInt64(directoryLimit), directorySize <= UInt64(directoryLimit) - directoryOffset
        else {
            throw fail(
                "central directory (\(directorySize) bytes at \(directoryOffset)) lies outside the archive", at: end)
        }
        guard count <= directorySize / 46 else {
            throw fail("\(count) entries cannot fit in a \(directorySize)-byte central directory", at: end)
        }

        var entries: [ZipEntry] = []
        var names = Set<String>()
        var cursor = Int(directoryOffset)
        let directoryEnd = Int(directoryOffset + directorySize)
        for _ in 0..<count {
            guard cursor + 46 <= directoryEnd, Self.u32(bytes, cursor) == 0x0201_4B50 else {
                throw fail("bad central directory entry", at: cursor)
            }
            let flags = Self.u16(bytes, cursor + 8)
            let method = Self.u16(bytes, cursor + 10)
            let crc = Self.u32(bytes, cursor + 16)
            var compressed = UInt64(Self.u32(bytes, cursor + 20))
            var uncompressed = UInt64(Self.u32(bytes, cursor + 24))
            let nameLength = Int(Self.u16(bytes, cursor + 28))
            let extraLength = Int(Self.u16(bytes, cursor + 30))
            let commentLength = Int(Self.u16(bytes, cursor + 32))
            var localOffset = UInt64(Self.u32(bytes, cursor + 42))
            let nameStart = cursor + 46
            let next = nameStart + nameLength + extraLength + commentLength
            guard next <= directoryEnd else {
                throw fail("central directory entry runs past the directory", at: cursor)
            }
            guard
                let name = String(
                    validating: UnsafeRawBufferPointer(rebasing: bytes[nameStart..<(nameStart + nameLength)]),
                    as: UTF8.self)
            else {
                throw fail("member name is not valid UTF-8", at: nameStart)
            }
            // ZIP64 extra: the 8-byte values for the fields saturated at 0xFFFFFFFF, in order.
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = Self.u16(bytes, extra)
                let length = Int(Self.u16(bytes, extra + 2))
                guard extra + 4 + length <= extraEnd else {
                    throw fail("extra field of '\(name)' runs past its entry", at: extra)
                }
                if id == 0x0001 {
                    var field = extra + 4
                    for slot in 0..<3 {
                        let saturated =
                            slot == 0
                            ? uncompressed == 0xFFFF_FFFF
                            : slot == 1 ? compressed == 0xFFFF_FFFF : localOffset == 0xFFFF_FFFF
                        guard saturated else { continue }
                        guard field + 8 <= extra + 4 + length else {
                            throw fail("ZIP64 extra field of '\(name)' is too short", at: extra)
                        }
                        let value = Self.u64(bytes, field)
                        switch slot {
                        case 0: uncompressed = value
                        case 1: compressed = value
                        default: localOffset = value
                        }
                        field += 8
                    }
                }
                extra += 4 + length
            }
            guard flags & 1 == 0 else {
                throw AmalgamError(.unsupported, "member '\(name)' is encrypted", offset: UInt64(cursor))
            }
            guard method == 0 || method == 8 else {
                throw AmalgamError(
                    .unsupported,
                    "member '\(name)' uses compression method \(method); only stored (0) and deflate (8) are supported",
                    offset: UInt64(cursor))
            }
            guard names.insert(name).inserted else { throw fail("duplicate member '\(name)'", at: cursor) }
            guard localOffset <= UInt64(directoryOffset), compressed <= UInt64(Int.max), uncompressed <= UInt64(Int.max)
            else {
                throw fail("member '\(name)' has a local header offset or size outside the archive", at: cursor)
            }
            if method == 0 && compressed != uncompressed {
                throw fail(
                    "stored member '\(name)' has inconsistent sizes (\(compressed) compressed, \(uncompressed) uncompressed)",
                    at: cursor)
            }
            // Local header: must exist, name the same member, and leave the data in bounds.
            let local = Int(localOffset)
            guard local + 30 <= Int(directoryOffset), Self.u32(bytes, local) == 0x0403_4B50 else {
                throw fail("member '\(name)' has no local header at offset \(local)", at: local)
            }
            let localNameLength = Int(Self.u16(bytes, local + 26))
            let localExtraLength = Int(Self.u16(bytes, local + 28))
            let dataOffset = local + 30 + localNameLength + localExtraLength
            guard local + 30 + localNameLength <= Int(directoryOffset),
                Array(UnsafeRawBufferPointer(rebasing: bytes[(local + 30)..<(local + 30 + localNameLength)]))
                    == Array(name.utf8)
            else {
                throw fail("local header of '\(name)' names a different member", at: local)
            }
            guard dataOffset <= Int(directoryOffset), Int(compressed) <= Int(directoryOffset) - dataOffset else {
                throw fail(
                    "data of member '\(name)' (\(compressed) bytes at \(dataOffset)) runs past the end of the member area: truncated archive?",
                    at: local)
            }
            entries.append(
                ZipEntry(
                    name: name, method: method, flags: flags, crc32: crc, compressedSize: Int(compressed),
                    uncompressedSize: Int(uncompressed), localHeaderOffset: local, dataOffset: dataOffset))
            cursor = next
        }
        // Members must not overlap (overlapping members are a zip-bomb technique).
        let ordered = entries.sorted { $0.localHeaderOffset < $1.localHeaderOffset }
        for (before, after) in zip(ordered, ordered.dropFirst())
        where before.dataOffset + before.compressedSize > after.localHeaderOffset {
            throw fail("members '\(before.name)' and '\(after.name)' overlap", at: after.localHeaderOffset)
        }
        self.entries = entries
    }
}
