/// Choices for `Amalgam.convert`. Conversion works on `Parallelism.current` threads.
public struct ConversionOptions: Sendable {
    /// Input format identifier; nil sniffs the file.
    public var inputFormat: String?
    public var read = ReadOptions()
    public var overwrite = false
    /// Read the written model back before committing it and compare it with the input
    /// within the tolerance of each written tensor's encoding.
    public var verify = false
    public var progress: any ProgressReporter = SilentProgress()
    /// Receives the writer's warnings, one line each.
    public var warn: @Sendable (String) -> Void = { _ in }

    public init(inputFormat: String? = nil, overwrite: Bool = false) {
        self.inputFormat = inputFormat
        self.overwrite = overwrite
    }

    /// The settings `amalgam convert` takes besides the output's.
    public static let settings: [Setting] = [.from, .keepConstants, .verify, .threads, .force]

    /// Reads the conversion settings from `values`.
    public init(_ values: SettingValues) {
        inputFormat = values.text(.from)
        read.keepConstants = values.flag(.keepConstants)
        overwrite = values.flag(.force)
        verify = values.flag(.verify)
    }
}
