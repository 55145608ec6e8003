import AmalgamCore

/// mergekit's `passthrough`: the model stacked from layer slices as it is, nothing merged
/// (each slice has one source). Its tensors keep their encodings, quantised ones included.
public struct PassthroughMerge: MergeMethod {
    public init() {}

    public var name: String { "passthrough" }
    public var settings: [(key: String, value: JSONValue)] { [] }
    public var parameterSpecs: [ParameterSpec] { [ParameterSpec("scale", .shared, default: .number(1))] }

    public func merge(_ input: TensorMergeInput) throws -> TensorMergeResult { TensorMergeResult(merged: input.base) }
}

extension MergePlan {
    /// The plan of a passthrough: every tensor of `graph` copied.
    public static func passthrough(_ graph: ModelGraph) -> MergePlan {
        MergePlan(
            entries: graph.tensors.map { tensor in
                Entry(
                    name: tensor.name, shape: tensor.shape, kind: .copy, base: tensor, sources: [],
                    outputDType: tensor.encoding.dtype ?? .f32)
            }, notes: graph.notes)
    }
}
