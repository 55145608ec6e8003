import CMalloc
import COpenBLAS
import CProtobufC
import CZlib
import CZstd
import Testing

/// Each system library is linked and exercised, so a broken install fails loudly here.
struct CLibrariesTests {
    static let sample: [UInt8] = (0..<100_000).map { UInt8(truncatingIfNeeded: ($0 * 7) ^ ($0 >> 5)) }

    @Test("zstd one-shot compression round-trips and the frame declares its content size")
    func zstd() {
        let source = Self.sample
        var compressed = [UInt8](repeating: 0, count: ZSTD_compressBound(source.count))
        let produced = ZSTD_compress(&compressed, compressed.count, source, source.count, 3)
        #expect(ZSTD_isError(produced) == 0)
        #expect(ZSTD_getFrameContentSize(compressed, produced) == UInt64(source.count))
        var restored = [UInt8](repeating: 0, count: source.count)
        let got = ZSTD_decompress(&restored, restored.count, compressed, produced)
        #expect(got == source.count)
        #expect(restored == source)
    }

    @Test("zlib raw deflate (as in zip members) round-trips and crc32 matches the known value")
    func zlib() {
        #expect(crc32(0, Array("123456789".utf8), 9) == 0xCBF4_3926)
        let source = Self.sample
        var stream = z_stream()
        #expect(
            deflateInit2_(
                &stream, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
                == Z_OK)
        var compressed = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(source.count))))
        var input = source
        let produced: Int = input.withUnsafeMutableBufferPointer { inBuffer in
            compressed.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                let status = deflate(&stream, Z_FINISH)
                #expect(status == Z_STREAM_END)
                return Int(stream.total_out)
            }
        }
        deflateEnd(&stream)
        var inflater = z_stream()
        #expect(inflateInit2_(&inflater, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        var restored = [UInt8](repeating: 0, count: source.count)
        restored.withUnsafeMutableBufferPointer { outBuffer in
            compressed.withUnsafeMutableBufferPointer { inBuffer in
                inflater.next_in = inBuffer.baseAddress
                inflater.avail_in = uInt(produced)
                inflater.next_out = outBuffer.baseAddress
                inflater.avail_out = uInt(outBuffer.count)
                #expect(inflate(&inflater, Z_FINISH) == Z_STREAM_END)
            }
        }
        inflateEnd(&inflater)
        #expect(restored == source)
    }

    @Test("glibc mallopt accepts the fixed mmap threshold the CLI sets")
    func malloc() {
        #expect(mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1)
    }

    @Test("protobuf-c reports its version")
    func protobufC() {
        let version = String(cString: protobuf_c_version())
        #expect(version.split(separator: ".").count == 3)
        #expect(protobuf_c_version_number() >= 1_003_000)
    }

    @Test("cblas_sgemm and LAPACKE_sgesdd run")
    func blas() {
        let a: [Float] = [1, 2, 3, 4]  // [[1, 2], [3, 4]]
        let b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: 0, count: 4)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 2, 1, a, 2, b, 2, 0, &c, 2)
        #expect(c == [19, 22, 43, 50])
        var m: [Float] = [3, 0, 0, 0, -2, 0]  // 2x3 with singular values 3, 2
        var s = [Float](repeating: 0, count: 2)
        var u = [Float](repeating: 0, count: 4)
        var vt = [Float](repeating: 0, count: 6)
        let info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "S")), 2, 3, &m, 3, &s, &u, 2, &vt, 3)
        #expect(info == 0 && s == [3, 2])
    }
}
