import AmalgamCore
import LinearAlgebra

/// The rows of the model's `classifier.weight` (its label count), when it has one.
func classifierRows(_ graph: ModelGraph) -> Int? {
    guard let head = graph["classifier.weight"], head.shape.dimensions.count == 2 else { return nil }
    return head.shape.dimensions[0]
}

/// The model's head `name` when its output count matches `classes`, else a new one
/// (PyTorch's default initialisation, seeded), trained in every mode.
func makeHead(store: ParameterStore, name: String, inputs: Int, classes: Int) throws -> Linear {
    if let existing = store.graph[name + ".weight"], existing.shape.dimensions == [classes, inputs] {
        return try store.linear(name, head: true)
    }
    let bound = 1 / Float(inputs).squareRoot()
    return Linear(
        weight: store.newParameter(name + ".weight", shape: [classes, inputs], bound: bound),
        bias: store.newParameter(name + ".bias", shape: [classes], bound: bound))
}
