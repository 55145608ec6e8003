/// What every reader may be asked for, besides the path.
public struct ReadOptions: Sendable, Hashable {
    /// Keep tensors that are not weights (an ONNX graph's shape constants and other
    /// initializers no weight-consuming node reads). Default: weights only.
    public var keepConstants: Bool
    /// Files this process is writing that are not at their paths yet: target path → the
    /// temporary holding its bytes, so a command can read its own outputs back before the
    /// commit (an ONNX model's external data file, named by its target path).
    public var stagedFiles: [String: String]

    public init(keepConstants: Bool = false, stagedFiles: [String: String] = [:]) {
        self.keepConstants = keepConstants
        self.stagedFiles = stagedFiles
    }
}
