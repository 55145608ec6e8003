import AmalgamCore

/// A dense row-major f32 matrix that owns its storage. Row `i`, column `j` is
/// `elements[i * columns + j]` (the layout of a PyTorch `[out, in]` weight).
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public var elements: [Float]

    /// A matrix over `elements` (row-major). - Precondition: `elements.count == rows * columns`.
    public init(rows: Int, columns: Int, elements: [Float]) {
        precondition(
            rows >= 0 && columns >= 0 && elements.count == rows * columns,
            "\(elements.count) elements for \(rows)x\(columns)")
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    public init(zeros rows: Int, _ columns: Int) {
        self.init(rows: rows, columns: columns, elements: [Float](repeating: 0, count: rows * columns))
    }

    /// `rows` copies of `row` (a bias broadcast over a batch). O(rows x row.count).
    public init(rows: Int, columns: Int, repeatingRow row: [Float]) {
        precondition(row.count == columns, "a row of \(row.count) values for \(columns) columns")
        var elements: [Float] = []
        elements.reserveCapacity(rows * columns)
        for _ in 0..<rows { elements.append(contentsOf: row) }
        self.init(rows: rows, columns: columns, elements: elements)
    }

    /// The `n x n` identity.
    public static func identity(_ n: Int) -> Matrix {
        var matrix = Matrix(zeros: n, n)
        for i in 0..<n { matrix[i, i] = 1 }
        return matrix
    }

    @inlinable
    public subscript(row: Int, column: Int) -> Float {
        get { elements[row * columns + column] }
        set { elements[row * columns + column] = newValue }
    }

    /// `Aᵀ` (equally: a column-major array read back as row-major), in 32 x 32 tiles so both
    /// sides stay in cache. O(rows x columns).
    public var transposed: Matrix {
        let (rows, columns, tile) = (self.rows, self.columns, 32)
        let elements = [Float](unsafeUninitializedCapacity: rows * columns) { result, count in
            self.elements.withUnsafeBufferPointer { source in
                for rowStart in stride(from: 0, to: rows, by: tile) {
                    let rowEnd = min(rows, rowStart + tile)
                    for columnStart in stride(from: 0, to: columns, by: tile) {
                        for row in rowStart..<rowEnd {
                            for column in columnStart..<min(columns, columnStart + tile) {
                                result[column * rows + row] = source[row * columns + column]
                            }
                        }
                    }
                }
            }
            count = rows * columns
        }
        return Matrix(rows: columns, columns: rows, elements: elements)
    }

    /// This matrix with column `j` multiplied by `scales[j]` (`A diag(s)`). O(rows x columns).
    public func scalingColumns(by scales: [Float]) -> Matrix {
        precondition(scales.count == columns, "\(scales.count) scales for \(columns) columns")
        var result = self
        for i in 0..<rows {
            for j in 0..<columns { result[i, j] *= scales[j] }
        }
        return result
    }

    /// Columns `range` of this matrix, as a `rows x range.count` matrix. O(rows x range.count).
    public func columns(_ range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= columns, "columns \(range) of \(columns)")
        var result = Matrix(zeros: rows, range.count)
        for i in 0..<rows {
            for (k, j) in range.enumerated() { result.elements[i * range.count + k] = elements[i * columns + j] }
        }
        return result
    }

    /// `[A | B]`: `b`'s columns after `a`'s (the same row count). O(rows x columns).
    public static func concatenatingColumns(_ a: Matrix, _ b: Matrix) -> Matrix {
        precondition(a.rows == b.rows, "\(a.rows) rows beside \(b.rows)")
        var result = Matrix(zeros: a.rows, a.columns + b.columns)
        for i in 0..<a.rows {
            for j in 0..<a.columns { result[i, j] = a[i, j] }
            for j in 0..<b.columns { result[i, a.columns + j] = b[i, j] }
        }
        return result
    }

    /// Frobenius norm (`SumOfSquares`: f32 lanes in blocks, f64 across blocks).
    public var frobeniusNorm: Double {
        SumOfSquares.of(elements).squareRoot()
    }
}
