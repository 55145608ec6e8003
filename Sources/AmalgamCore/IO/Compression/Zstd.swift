import CZstd

/// zstd frames, streamed: a mapped file compressed into a sink chunk by chunk, or
/// decompressed into a file descriptor under a size bound the caller learns from the
/// decompressed bytes as they arrive (a model file's header says how long the file is, so a
/// frame that declares or produces more is a decompression bomb and is stopped there).
/// The only place that calls libzstd.
public enum Zstd {
    /// The four bytes every zstd frame starts with.
    public static let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]

    /// Levels libzstd accepts (negative levels are its fast modes).
    public static var levels: ClosedRange<Int> { Int(ZSTD_minCLevel())...Int(ZSTD_maxCLevel()) }

    /// True when `prefix` starts with a zstd frame.
    public static func isFrame(_ prefix: [UInt8]) -> Bool { prefix.starts(with: magic) }

    /// What the decompressed bytes so far say about the size of the whole.
    public enum ImpliedSize: Sendable, Equatable {
        /// The whole is this many bytes.
        case bytes(Int)
        /// The header is not complete in these bytes yet.
        case needsMore
    }

    /// Compresses `source` at `level` (with `threads` compression threads; the bytes do not
    /// depend on how many), handing each compressed chunk to `sink`. The frame declares the
    /// content size and carries a checksum.
    public static func compress(
        _ source: ByteRegion, level: Int, threads: Int, label: String,
        into sink: (UnsafeRawBufferPointer) throws(AmalgamError) -> Void
    ) throws(AmalgamError) {
        guard let context = ZSTD_createCCtx() else { throw AmalgamError(.io, "zstd: out of memory", file: label) }
        defer { ZSTD_freeCCtx(context) }
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, Int32(level)), label)
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1), label)
        // libzstd built without threads refuses workers: compress on this thread then.
        if threads > 1 { _ = ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, Int32(threads)) }
        try check(ZSTD_CCtx_setPledgedSrcSize(context, UInt64(source.count)), label)
        let chunk = ZSTD_CStreamOutSize()
        let output = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { output.deallocate() }
        var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
        while true {
            var out = ZSTD_outBuffer(dst: output, size: chunk, pos: 0)
            let remaining = ZSTD_compressStream2(context, &out, &input, ZSTD_e_end)
            try check(remaining, label)
            if out.pos > 0 { try sink(UnsafeRawBufferPointer(start: output, count: out.pos)) }
            if remaining == 0 { break }
        }
    }

    /// Decompresses every frame of `source` into `destination` and returns the byte count.
    /// `implied` is asked, with the decompressed bytes so far (a prefix, up to `headLimit`),
    /// what the whole will be; once it knows, a frame that declares more, or output that
    /// runs past it, is refused. - Throws: `.invalidFormat` for corrupt frames, `.overflow`
    /// for a bomb or a header that does not end within `headLimit` bytes.
    public static func decompress(
        _ source: ByteRegion, label: String, into destination: FileDescriptor, headLimit: Int = 128 << 20,
        implied: (ByteRegion) throws(AmalgamError) -> ImpliedSize
    ) throws(AmalgamError) -> Int {
        let declared = declaredSize(source)
        guard let stream = ZSTD_createDStream() else { throw AmalgamError(.io, "zstd: out of memory", file: label) }
        defer { ZSTD_freeDStream(stream) }
        let chunk = 4 << 20
        let output = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { output.deallocate() }
        var head: [UInt8] = []
        var nextAsk = 1 << 16
        var bound: Int?
        var written = 0
        var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
        var lastResult = 0
        func ask(finished: Bool) throws(AmalgamError) {
            guard bound == nil, finished || head.count >= nextAsk else { return }
            switch try implied(ByteRegion(copying: head)) {
            case .bytes(let size):
                bound = size
                if let declared, declared > UInt64(size) {
                    throw AmalgamError(
                        .overflow,
                        "zstd frame declares \(declared) bytes, but the header it holds implies a \(size)-byte file (a decompression bomb?)",
                        file: label, offset: 0)
                }
            case .needsMore:
                // A whole file without a complete header: its reader names the fault.
                if finished { return }
                guard head.count < headLimit else {
                    throw AmalgamError(
                        .overflow,
                        "zstd: no complete model header in the first \(head.count) decompressed bytes; refusing to decompress further",
                        file: label)
                }
                nextAsk = min(headLimit, nextAsk * 2)
            }
        }
        while input.pos < input.size {
            var out = ZSTD_outBuffer(dst: output, size: chunk, pos: 0)
            let before = input.pos
            lastResult = ZSTD_decompressStream(stream, &out, &input)
            if ZSTD_isError(lastResult) != 0 {
                throw AmalgamError(
                    .invalidFormat, "zstd: \(String(cString: ZSTD_getErrorName(lastResult)))", file: label,
                    offset: UInt64(before))
            }
            if out.pos > 0 {
                let bytes = UnsafeRawBufferPointer(start: output, count: out.pos)
                if bound == nil, head.count < headLimit { head += bytes.prefix(headLimit - head.count) }
                written += out.pos
                try ask(finished: false)
                if let bound, written > bound {
                    throw AmalgamError(
                        .overflow,
                        "zstd data decompresses past the \(bound) bytes its header implies (a decompression bomb?)",
                        file: label, offset: UInt64(input.pos))
                }
                do { try destination.writeAll(bytes) } catch {
                    throw AmalgamError("cannot write the decompressed copy", file: label, errno: error)
                }
            } else if input.pos == before {
                break
            }
        }
        guard lastResult == 0 else {
            throw AmalgamError(
                .invalidFormat, "zstd: the compressed data ends inside a frame (truncated?)", file: label,
                offset: UInt64(source.count))
        }
        try ask(finished: true)
        return written
    }

    /// The content size the first frame declares, if it declares one.
    static func declaredSize(_ source: ByteRegion) -> UInt64? {
        let size = ZSTD_getFrameContentSize(source.baseAddress, source.count)
        // ZSTD_CONTENTSIZE_UNKNOWN and _ERROR are the two largest values.
        return size >= UInt64.max - 1 ? nil : size
    }

    private static func check(_ result: Int, _ label: String) throws(AmalgamError) {
        if ZSTD_isError(result) != 0 {
            throw AmalgamError(.io, "zstd: \(String(cString: ZSTD_getErrorName(result)))", file: label)
        }
    }
}
