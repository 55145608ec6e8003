import AmalgamCore
import CZlib

/// Thin wrappers over zlib for zip members: CRC-32 and raw deflate streams.
enum Zlib {
    /// CRC-32 of `bytes` continuing from `crc` (0 to start).
    static func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var value = uLong(crc)
        var offset = 0
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, 1 << 30)
            value = CZlib.crc32(value, bytes.baseAddress!.assumingMemoryBound(to: Bytef.self) + offset, uInt(chunk))
            offset += chunk
        }
        return UInt32(value)
    }

    /// Inflates a raw deflate stream into exactly `capacity` bytes.
    ///
    /// - Parameter partial: when true, stops quietly once `capacity` bytes are out (to read
    ///   a header); when false, the stream must end exactly there.
    /// - Throws: `.invalidFormat` when the stream is corrupt, ends early, or would produce
    ///   more than `capacity` bytes (a zip bomb, or sizes that lie).
    static func inflate(
        _ compressed: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, partial: Bool = false
    ) throws(AmalgamError) -> Int {
        var stream = z_stream()
        guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw AmalgamError(.internal, "zlib inflateInit2 failed")
        }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: compressed.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = 0
        stream.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = 0
        var inputLeft = compressed.count
        var outputLeft = output.count
        while true {
            // zlib counts in 32-bit units: feed at most 1 GiB at a time.
            if stream.avail_in == 0 && inputLeft > 0 {
                let chunk = min(inputLeft, 1 << 30)
                stream.avail_in = uInt(chunk)
                inputLeft -= chunk
            }
            if stream.avail_out == 0 && outputLeft > 0 {
                let chunk = min(outputLeft, 1 << 30)
                stream.avail_out = uInt(chunk)
                outputLeft -= chunk
            }
            let status = CZlib.inflate(&stream, Z_NO_FLUSH)
            let produced = output.count - outputLeft - Int(stream.avail_out)
            switch status {
            case Z_STREAM_END:
                guard produced == output.count || partial else {
                    throw AmalgamError(.invalidFormat, "deflate stream ends after \(produced) of \(output.count) bytes")
                }
                return produced
            case Z_OK, Z_BUF_ERROR:
                if produced == output.count {
                    if partial { return produced }
                    // Full: the stream must be at its end. Probe for one more byte.
                    var probe: UInt8 = 0
                    let more = withUnsafeMutablePointer(to: &probe) { pointer -> Int32 in
                        stream.next_out = pointer
                        stream.avail_out = 1
                        return CZlib.inflate(&stream, Z_NO_FLUSH)
                    }
                    if more == Z_STREAM_END && stream.avail_out == 1 { return produced }
                    throw AmalgamError(
                        .invalidFormat,
                        "deflate stream inflates beyond the \(output.count) bytes it declares (zip bomb?)")
                }
                if status == Z_BUF_ERROR && stream.avail_in == 0 && inputLeft == 0 {
                    throw AmalgamError(
                        .invalidFormat, "deflate stream is truncated after \(produced) of \(output.count) bytes")
                }
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw AmalgamError(.invalidFormat, "corrupt deflate stream (\(reason))")
            }
        }
    }

    /// A raw deflate stream at zlib's default level (6, as numpy's `savez_compressed`), fed
    /// in pieces; the compressed bytes go to a sink as they are produced, so a member of any
    /// size is compressed in the memory of one piece and zlib's window.
    final class Deflater {
        // zlib keeps a pointer back to its z_stream: the stream must not move.
        private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        private var output = [UInt8](repeating: 0, count: 1 << 20)

        init() throws(AmalgamError) {
            stream.initialize(to: z_stream())
            guard
                deflateInit2_(
                    stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                    Int32(MemoryLayout<z_stream>.size)) == Z_OK
            else {
                stream.deallocate()
                throw AmalgamError(.internal, "zlib deflateInit2 failed")
            }
        }

        deinit {
            deflateEnd(stream)
            stream.deallocate()
        }

        /// Compresses `bytes` (in pieces of at most 1 GiB: zlib counts in 32 bits); with
        /// `finish`, ends the stream. Compressed bytes go to `sink`.
        func feed(
            _ bytes: UnsafeRawBufferPointer, finish: Bool, into sink: (UnsafeRawBufferPointer) throws -> Void
        ) throws {
            var offset = 0
            repeat {
                let take = min(bytes.count - offset, 1 << 30)
                let last = offset + take == bytes.count
                let flush = finish && last ? Z_FINISH : Z_NO_FLUSH
                stream.pointee.next_in = UnsafeMutablePointer(
                    mutating: bytes.baseAddress.map { ($0 + offset).assumingMemoryBound(to: Bytef.self) })
                stream.pointee.avail_in = uInt(take)
                var finished = false
                repeat {
                    let (status, produced) = output.withUnsafeMutableBufferPointer { buffer -> (Int32, Int) in
                        stream.pointee.next_out = buffer.baseAddress
                        stream.pointee.avail_out = uInt(buffer.count)
                        let status = CZlib.deflate(stream, flush)
                        return (status, buffer.count - Int(stream.pointee.avail_out))
                    }
                    guard status != Z_STREAM_ERROR else { throw AmalgamError(.internal, "zlib deflate failed") }
                    try output.withUnsafeBytes { raw in try sink(UnsafeRawBufferPointer(rebasing: raw[..<produced])) }
                    finished = status == Z_STREAM_END
                } while flush == Z_FINISH ? !finished : stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0
                offset += take
            } while offset < bytes.count
        }
    }

    /// An upper bound on the deflated size of `size` bytes (zlib's `compressBound`, which
    /// covers a zlib wrapper raw streams lack).
    static func deflateBound(_ size: Int) -> Int { Int(compressBound(uLong(size))) }

}
