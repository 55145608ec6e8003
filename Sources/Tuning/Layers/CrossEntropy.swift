import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// Softmax cross-entropy averaged over a batch, accumulated in f64.
enum CrossEntropy {
    /// The mean loss, the number of correct argmax predictions, and `∂loss/∂logits`.
    static func evaluate(logits: Matrix, labels: [Int]) -> (loss: Double, correct: Int, gradient: Matrix) {
        let classes = logits.columns
        var gradient = Matrix(zeros: logits.rows, classes)
        var loss: Double = 0
        var correct = 0
        for row in 0..<logits.rows {
            let base = row * classes
            var largest = -Double.greatestFiniteMagnitude
            var best = 0
            for c in 0..<classes where Double(logits.elements[base + c]) > largest {
                largest = Double(logits.elements[base + c])
                best = c
            }
            if best == labels[row] { correct += 1 }
            var sum: Double = 0
            for c in 0..<classes { sum += exp(Double(logits.elements[base + c]) - largest) }
            let logSum = log(sum) + largest
            loss += logSum - Double(logits.elements[base + labels[row]])
            for c in 0..<classes {
                let probability = exp(Double(logits.elements[base + c]) - logSum)
                gradient.elements[base + c] = Float((probability - (c == labels[row] ? 1 : 0)) / Double(logits.rows))
            }
        }
        return (loss / Double(max(logits.rows, 1)), correct, gradient)
    }
}
