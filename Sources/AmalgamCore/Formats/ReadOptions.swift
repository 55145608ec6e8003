/// What every reader may be asked for, besides the path.
public struct ReadOptions: Sendable, Hashable {
    /// Keep tensors that are not weights (an ONNX graph's shape constants and other
    /// initializers no weight-consuming node reads). Default: weights only.
    public var keepConstants: Bool

    public init(keepConstants: Bool = false) {
        self.keepConstants = keepConstants
    }
}
