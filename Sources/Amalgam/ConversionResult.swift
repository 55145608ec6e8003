/// What a conversion did.
public struct ConversionResult: Sendable {
    public var inputFormat: String
    public var outputFormat: String
    /// Files created, in the order they were created.
    public var files: [String]
    public var tensorCount: Int
    public var parameterCount: Int
    /// With `verify`: how each output read back compares with the input.
    public var verifications: [ModelComparison] = []
}
