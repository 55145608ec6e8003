import LinearAlgebra

/// A named array of weights with its gradient and AdamW state. 1-D weights are stored as a
/// `1 x n` matrix; `shape` keeps the tensor's own shape for writing it back.
public final class Parameter {
    public let name: String
    public let shape: [Int]
    public var value: Matrix
    public var gradient: Matrix
    /// Frozen parameters get no gradient and are never updated.
    public var trainable: Bool
    /// Created by the trainer (a new head) rather than read from the model.
    public let isNew: Bool
    /// Part of the classification head: trained at the head's learning rate.
    public var isHead = false
    var firstMoment: [Float] = []
    var secondMoment: [Float] = []

    public init(name: String, shape: [Int], value: Matrix, trainable: Bool, isNew: Bool = false) {
        precondition(value.elements.count == shape.reduce(1, *), "\(value.elements.count) values for \(shape)")
        self.name = name
        self.shape = shape
        self.value = value
        self.gradient = Matrix(zeros: value.rows, value.columns)
        self.trainable = trainable
        self.isNew = isNew
    }

    public var count: Int { value.elements.count }

    func zeroGradient() {
        guard trainable else { return }
        gradient.elements.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }
}

extension Matrix {
    /// Element-wise `self += other`.
    mutating func add(_ other: Matrix) {
        precondition(
            rows == other.rows && columns == other.columns,
            "adding \(other.rows)x\(other.columns) to \(rows)x\(columns)")
        elements.withUnsafeMutableBufferPointer { target in
            other.elements.withUnsafeBufferPointer { source in
                for index in 0..<target.count { target[index] += source[index] }
            }
        }
    }

    /// The sum of each column (a `1 x columns` matrix).
    var columnSums: [Float] {
        var sums = [Float](repeating: 0, count: columns)
        let columns = self.columns
        elements.withUnsafeBufferPointer { values in
            sums.withUnsafeMutableBufferPointer { sums in
                guard let values = values.baseAddress, let sums = sums.baseAddress else { return }
                for row in 0..<rows {
                    let line = values + row * columns
                    for column in 0..<columns { sums[column] += line[column] }
                }
            }
        }
        return sums
    }
}
