import AmalgamCore

/// Options of `.npz` output.
public struct NPZWriterOptions: WriterOptions {
    /// Deflate every member, as `numpy.savez_compressed` does.
    public var compress = false
    /// Store bf16/float8 as raw bit patterns plus `__amalgam_dtypes__.json`, not as float32.
    public var keepDType = false
    /// Sizes and offsets at or above this get ZIP64 records (0xFFFFFFFF per the format;
    /// tests lower it to exercise the ZIP64 path on small files).
    public var zip64Threshold = 0xFFFF_FFFF

    public init() {}

    public init(compress: Bool = false, keepDType: Bool = false, zip64Threshold: Int = 0xFFFF_FFFF) {
        self.compress = compress
        self.keepDType = keepDType
        self.zip64Threshold = zip64Threshold
    }

    public static let accepted: Set<OutputSetting> = [.compress, .keepDType]

    public init(_ settings: OutputSettings) {
        compress = settings.compress
        keepDType = settings.keepDType
    }
}
