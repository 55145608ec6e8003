/// Tensors that share a block index, in model order.
public struct LayerGroup: Sendable {
    public var block: Int?
    /// Names and roles of the tensors in this group.
    public var members: [(name: String, role: TensorRole)]
}
