import Amalgam
import AmalgamCore
import Tuning

extension LabelledData {
    /// The first `limit` examples of the npz file at `path` (every array cut along its first
    /// dimension), checked: the arrays a dataset needs, labels below `classes`.
    /// - Throws: one line naming the file (and the array) for a missing array, a shape that
    ///   does not match, or a label out of range.
    init(file path: String, limit: Int? = nil, classes: Int) throws {
        let graph = try AmalgamError.withContext(file: path) { try Amalgam.builtInFormats.read(path).graph }
        let full = try Dataset(graph: graph, path: path)
        try full.checkLabels(classes: classes, path: path)
        guard let limit, limit < full.count else {
            try self.init(graph: graph, name: path)
            return
        }
        let cut = try graph.mapTensors { tensor in
            let dims = tensor.shape.dimensions
            guard let rows = dims.first, rows == full.count else { return tensor }
            let bytes = try tensor.loadBytes()
            let kept = bytes.slice(offset: 0, count: bytes.count / rows * limit)
            var shape = dims
            shape[0] = limit
            return Tensor(
                name: tensor.name, shape: Shape(shape), encoding: tensor.encoding,
                storage: .region(ByteRegion(copying: kept.bytes)))
        }
        try self.init(graph: cut, name: path)
    }
}
