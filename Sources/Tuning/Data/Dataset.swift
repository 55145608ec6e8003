import AmalgamCore
import LinearAlgebra

/// Labelled examples read from an npz file:
/// - vectors or images: `x` (floating point, `[n, features]` or `[n, channels, height,
///   width]`) and `y` (integer labels `[n]`);
/// - text: `input_ids` and `attention_mask` (`[n, length]`, integers), optionally
///   `token_type_ids`, and `labels` (`[n]`).
public struct Dataset: Sendable {
    public enum Layout: Sendable, Equatable {
        case features(width: Int)
        case images(channels: Int, height: Int, width: Int)
        case tokens(length: Int)
    }

    public let layout: Layout
    public let count: Int
    public let labels: [Int]
    private let values: [Float]
    private let ids: [Int]
    private let typeIds: [Int]?
    private let mask: [Float]

    /// The number of classes the labels need (largest label + 1).
    public var classCount: Int { (labels.max() ?? -1) + 1 }

    /// Validates and loads `graph` (read from `path`, which errors name). Without
    /// `requiringLabels`, missing labels read as zeros (for computing outputs only).
    public init(graph: ModelGraph, path: String, requiringLabels: Bool = true) throws {
        func fail(_ message: String, tensor: String? = nil) -> AmalgamError {
            AmalgamError(.mismatch, message, file: path, tensor: tensor)
        }
        func integers(_ name: String, shape expected: [Int]? = nil) throws -> (values: [Int], shape: [Int]) {
            guard let tensor = graph[name] else { throw fail("has no '\(name)' array") }
            guard let dtype = tensor.encoding.dtype, [.i64, .i32, .i16, .i8, .u8, .u16, .u32, .bool].contains(dtype)
            else {
                throw fail("must hold integers, not \(tensor.encoding)", tensor: name)
            }
            if let expected, tensor.shape.dimensions != expected {
                throw fail("has shape \(tensor.shape), expected \(Shape(expected))", tensor: name)
            }
            let bytes = try tensor.loadBytes()
            let count = tensor.shape.elementCount
            let values: [Int] = bytes.withUnsafeBytes { raw in
                (0..<count).map { Int(ElementConversion.loadDouble(raw.baseAddress!, as: dtype, at: $0)) }
            }
            return (values, tensor.shape.dimensions)
        }
        let labelName: String
        if graph["input_ids"] != nil {
            let (ids, shape) = try integers("input_ids")
            guard shape.count == 2, shape[0] > 0, shape[1] > 0 else {
                throw fail("must be [examples, length], not \(Shape(shape))", tensor: "input_ids")
            }
            guard ids.allSatisfy({ $0 >= 0 }) else { throw fail("holds a negative token id", tensor: "input_ids") }
            let (mask, _) = try integers("attention_mask", shape: shape)
            guard mask.allSatisfy({ $0 == 0 || $0 == 1 }) else {
                throw fail("must hold 0 or 1", tensor: "attention_mask")
            }
            if graph["token_type_ids"] != nil {
                let (types, _) = try integers("token_type_ids", shape: shape)
                guard types.allSatisfy({ $0 >= 0 }) else {
                    throw fail("holds a negative type id", tensor: "token_type_ids")
                }
                typeIds = types
            } else {
                typeIds = nil
            }
            layout = .tokens(length: shape[1])
            count = shape[0]
            self.ids = ids
            self.mask = mask.map(Float.init)
            values = []
            labelName = "labels"
        } else {
            guard let x = graph["x"] else { throw fail("has neither 'x' (features or images) nor 'input_ids' (text)") }
            guard x.encoding.dtype?.isFloatingPoint == true else {
                throw fail("must hold floating-point values, not \(x.encoding)", tensor: "x")
            }
            let dims = x.shape.dimensions
            switch dims.count {
            case 2: layout = .features(width: dims[1])
            case 4: layout = .images(channels: dims[1], height: dims[2], width: dims[3])
            default:
                throw fail(
                    "must be [examples, features] or [examples, channels, height, width], not \(x.shape)", tensor: "x")
            }
            guard dims[0] > 0 else { throw fail("holds no examples", tensor: "x") }
            count = dims[0]
            values = try x.floatValues()
            guard values.allSatisfy(\.isFinite) else { throw fail("holds NaN or infinite values", tensor: "x") }
            ids = []
            typeIds = nil
            mask = []
            labelName = "y"
        }
        if !requiringLabels, graph[labelName] == nil {
            labels = [Int](repeating: 0, count: count)
            return
        }
        let (labels, labelShape) = try integers(labelName)
        guard labelShape == [count] else {
            throw fail("has shape \(Shape(labelShape)); one label per example needs [\(count)]", tensor: labelName)
        }
        if let negative = labels.firstIndex(where: { $0 < 0 }) {
            throw fail("label \(labels[negative]) at example \(negative) is negative", tensor: labelName)
        }
        self.labels = labels
    }

    /// Checks the labels fit a model with `classes` outputs.
    public func checkLabels(classes: Int, path: String) throws {
        if let index = labels.firstIndex(where: { $0 >= classes }) {
            throw AmalgamError(
                .mismatch, "label \(labels[index]) at example \(index) is out of range for \(classes) classes",
                file: path)
        }
    }

    /// The inputs and labels of the examples at `indices`.
    func batch(_ indices: [Int]) -> (Inputs, [Int]) {
        let labels = indices.map { self.labels[$0] }
        switch layout {
        case .features(let width):
            return (.features(rows(indices, width: width)), labels)
        case .images(let channels, let height, let width):
            return (
                .images(
                    rows(indices, width: channels * height * width), channels: channels, height: height, width: width),
                labels
            )
        case .tokens(let length):
            var batchIds: [Int] = []
            var batchTypes: [Int]? = typeIds == nil ? nil : []
            var batchMask: [Float] = []
            for index in indices {
                batchIds += ids[(index * length)..<((index + 1) * length)]
                batchMask += mask[(index * length)..<((index + 1) * length)]
                if let typeIds { batchTypes! += typeIds[(index * length)..<((index + 1) * length)] }
            }
            return (
                .tokens(ids: batchIds, typeIds: batchTypes, mask: batchMask, batch: indices.count, length: length),
                labels
            )
        }
    }

    /// Calls `body` with consecutive batches of at most `batchSize` examples, in order.
    func inOrder(batchSize: Int, _ body: (Inputs, [Int]) throws -> Void) rethrows {
        var start = 0
        while start < count {
            let (inputs, labels) = batch(Array(start..<min(start + batchSize, count)))
            try body(inputs, labels)
            start += batchSize
        }
    }

    private func rows(_ indices: [Int], width: Int) -> Matrix {
        var matrix = Matrix(zeros: indices.count, width)
        for (row, index) in indices.enumerated() {
            for c in 0..<width { matrix.elements[row * width + c] = values[index * width + c] }
        }
        return matrix
    }

    /// The largest token id (to check against a vocabulary), or nil for non-text data.
    var largestTokenID: Int? { ids.max() }
    var largestTypeID: Int? { typeIds?.max() }
}
