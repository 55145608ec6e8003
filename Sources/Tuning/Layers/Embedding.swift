import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// Rows of a table picked by integer ids (word, position and token-type embeddings).
final class Embedding {
    let table: Parameter
    private var ids: [Int] = []

    init(table: Parameter) { self.table = table }

    var parameters: [Parameter] { [table] }

    /// - Precondition: every id is a row of the table (checked when data is loaded).
    func forward(_ ids: [Int]) -> Matrix {
        self.ids = ids
        let width = table.value.columns
        var output = Matrix(zeros: ids.count, width)
        output.elements.withUnsafeMutableBufferPointer { out in
            table.value.elements.withUnsafeBufferPointer { rows in
                for (position, id) in ids.enumerated() {
                    for c in 0..<width { out[position * width + c] = rows[id * width + c] }
                }
            }
        }
        return output
    }

    func backward(_ outputGradient: Matrix) {
        guard table.trainable else { return }
        let width = table.value.columns
        let ids = self.ids
        table.gradient.elements.withUnsafeMutableBufferPointer { rows in
            outputGradient.elements.withUnsafeBufferPointer { gradient in
                for (position, id) in ids.enumerated() {
                    for c in 0..<width { rows[id * width + c] += gradient[position * width + c] }
                }
            }
        }
    }
}
