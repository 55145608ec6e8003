import Testing

@testable import AmalgamCore

/// zstd streams: compression round-trips through decompression, declares its size, does not
/// depend on the thread count; decompression stops at the size the data's header implies.
struct ZstdTests {
    static let sample: [UInt8] = (0..<3_000_000).map { UInt8(truncatingIfNeeded: ($0 * 31) ^ ($0 >> 9)) }

    static func compressed(_ bytes: [UInt8], level: Int = 3, threads: Int = 1) throws -> [UInt8] {
        var out: [UInt8] = []
        try Zstd.compress(ByteRegion(copying: bytes), level: level, threads: threads, label: "test") { out += $0 }
        return out
    }

    /// Decompresses into an unlinked temporary file and reads it back.
    static func decompressed(
        _ bytes: [UInt8], implied: (ByteRegion) throws(AmalgamError) -> Zstd.ImpliedSize = { _ in .needsMore }
    ) throws -> [UInt8] {
        let (descriptor, path) = try SystemCall.makeTemporaryFile("/tmp/.amalgam-zstd-test-XXXXXX")
        defer {
            descriptor.close()
            try? SystemCall.removeFile(path)
        }
        let count = try Zstd.decompress(ByteRegion(copying: bytes), label: "test", into: descriptor, implied: implied)
        let file = try MappedFile(path: path)
        #expect(file.size == count)
        return file.region.bytes
    }

    @Test("compress then decompress gives the bytes back; the frame declares their count", arguments: [1, 3, 19])
    func roundTrip(level: Int) throws {
        let frame = try Self.compressed(Self.sample, level: level)
        #expect(Zstd.isFrame(frame))
        #expect(Zstd.declaredSize(ByteRegion(copying: frame)) == UInt64(Self.sample.count))
        #expect(frame.count < Self.sample.count)
        #expect(try Self.decompressed(frame) == Self.sample)
    }

    @Test("the compressed bytes are the same with 1, 2 or 4 threads")
    func threadCountDoesNotMatter() throws {
        let one = try Self.compressed(Self.sample, threads: 1)
        let two = try Self.compressed(Self.sample, threads: 2)
        let four = try Self.compressed(Self.sample, threads: 4)
        #expect(one == two && two == four)
        #expect(try Self.decompressed(one) == Self.sample)
    }

    @Test("a frame declaring more than the header implies is refused before any output")
    func declaredBomb() throws {
        let frame = try Self.compressed(Self.sample)
        #expect(throws: AmalgamError.self) {
            _ = try Self.decompressed(frame) { (_) throws(AmalgamError) in .bytes(1000) }
        }
        do {
            _ = try Self.decompressed(frame) { (_) throws(AmalgamError) in .bytes(1000) }
        } catch let error as AmalgamError {
            #expect(error.code == .overflow)
            #expect(error.message.hasPrefix("zstd frame declares 3000000 bytes, but the header it holds implies"))
        }
    }

    @Test("a header never complete within the limit is refused")
    func headerLimit() throws {
        let frame = try Self.compressed(Self.sample)
        let (descriptor, path) = try SystemCall.makeTemporaryFile("/tmp/.amalgam-zstd-test-XXXXXX")
        defer {
            descriptor.close()
            try? SystemCall.removeFile(path)
        }
        #expect(throws: AmalgamError.self) {
            _ = try Zstd.decompress(ByteRegion(copying: frame), label: "t", into: descriptor, headLimit: 1 << 20) {
                (_) throws(AmalgamError) in .needsMore
            }
        }
    }

    @Test("corrupt and truncated frames are refused with invalid-format")
    func corrupt() throws {
        var frame = try Self.compressed(Self.sample)
        frame.removeLast(5)
        #expect(throws: AmalgamError.self) { _ = try Self.decompressed(frame) }
        #expect(throws: AmalgamError.self) { _ = try Self.decompressed(Zstd.magic + [UInt8](repeating: 7, count: 64)) }
    }
}
