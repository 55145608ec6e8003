import AmalgamCore
import Tuning

/// A task's examples as the npz files `amalgam tune --data` reads, and as the engine's
/// in-memory dataset.
struct LabelledData: Sendable {
    /// The npz arrays: `x` and `y` for images, `input_ids`, `attention_mask` and `labels` for text.
    let graph: ModelGraph
    let dataset: Dataset

    /// Images as `x` `[n, 1, height, width]` (f32) and labels `y` (i64).
    init(_ images: ImageSet, name: String) throws {
        let x = Tensor(name: "x", shape: Shape([images.count, 1, images.height, images.width]), floats: images.pixels)
        let y = Tensor(name: "y", shape: Shape([images.count]), integers: images.labels.map(Int64.init))
        try self.init(graph: ModelGraph(tensors: [x, y]), name: name)
    }

    init(graph: ModelGraph, name: String) throws {
        self.graph = graph
        dataset = try Dataset(graph: graph, path: name)
    }

    var count: Int { dataset.count }
}
