/// A writer's own options, typed, decoded once from `OutputSettings`.
public protocol WriterOptions: Sendable {
    /// The defaults.
    init()
    /// The output settings this writer takes; `init(_:format:)` refuses any other that is given.
    static var accepted: Set<OutputSetting> { get }
    /// Decodes the settings this writer takes. Only called after the others were refused.
    init(_ settings: OutputSettings) throws(AmalgamError)
}
