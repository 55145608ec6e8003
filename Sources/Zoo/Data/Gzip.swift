import AmalgamCore
import CZlib

/// Reads gzip files (the datasets Debian and scikit-learn ship compressed).
enum Gzip {
    /// The decompressed bytes of the gzip file at `path`, at most `limit` of them.
    /// - Throws: `.invalidFormat` naming the file when the stream is corrupt or over the limit.
    static func contents(of path: String, limit: Int = 1 << 30) throws -> [UInt8] {
        let file = try MappedFile(path: path)
        return try file.region.withUnsafeBytes { (input) throws(AmalgamError) -> [UInt8] in
            var stream = z_stream()
            // 15 + 16: a gzip header and trailer around the deflate stream.
            guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw AmalgamError(.internal, "zlib inflateInit2 failed", file: path)
            }
            defer { inflateEnd(&stream) }
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            var output: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { buffer -> (Int32, Int) in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = uInt(buffer.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return (status, buffer.count - Int(stream.avail_out))
                }
                output += chunk.prefix(produced)
                guard output.count <= limit else {
                    throw AmalgamError(.invalidFormat, "decompresses to more than \(limit) bytes", file: path)
                }
                if status == Z_STREAM_END { return output }
                guard status == Z_OK || (status == Z_BUF_ERROR && produced > 0) else {
                    throw AmalgamError(
                        .invalidFormat, "gzip stream is corrupt or truncated (zlib \(status))", file: path)
                }
            }
        }
    }
}
