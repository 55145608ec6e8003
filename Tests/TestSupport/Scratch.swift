import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Scratch folders and raw file writing for tests.
public enum Scratch {
    /// A new empty folder under /tmp.
    public static func folder() -> String {
        var template = Array("/tmp/amalgam-test-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    public static func write(_ bytes: [UInt8], to path: String) {
        let file = fopen(path, "wb")!
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, bytes.count, file) }
        fclose(file)
    }

    /// A safetensors file from a header string and data bytes (no padding added).
    public static func safetensors(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
        let json = Array(header.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + json + data
    }
}
