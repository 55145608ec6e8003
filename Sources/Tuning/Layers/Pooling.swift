import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// How a sequence of token vectors becomes one vector.
public enum Pooling: String, Sendable {
    /// The mean over real tokens (sentence-transformers' default).
    case mean
    /// The first token (BERT's and ViT's `[CLS]`).
    case cls
    /// The first token through the model's `pooler.dense` and tanh (Hugging Face's
    /// `BertForSequenceClassification`).
    case pooler
}

/// Pools `[batch·length, width]` into `[batch, width]`.
struct SequencePooling {
    let kind: Pooling

    func forward(_ tokens: Matrix, batch: Int, length: Int, mask: [Float]) -> Matrix {
        let width = tokens.columns
        var pooled = Matrix(zeros: batch, width)
        for b in 0..<batch {
            switch kind {
            case .cls, .pooler:
                for c in 0..<width { pooled.elements[b * width + c] = tokens.elements[b * length * width + c] }
            case .mean:
                let count = max(weight(b, length: length, mask: mask), 1e-9)
                for t in 0..<length where mask[b * length + t] != 0 {
                    let row = (b * length + t) * width
                    for c in 0..<width {
                        pooled.elements[b * width + c] += tokens.elements[row + c] * mask[b * length + t]
                    }
                }
                for c in 0..<width { pooled.elements[b * width + c] /= count }
            }
        }
        return pooled
    }

    private func weight(_ b: Int, length: Int, mask: [Float]) -> Float {
        var total: Float = 0
        for t in 0..<length { total += mask[b * length + t] }
        return total
    }

    func backward(_ pooledGradient: Matrix, batch: Int, length: Int, mask: [Float]) -> Matrix {
        let width = pooledGradient.columns
        var gradient = Matrix(zeros: batch * length, width)
        for b in 0..<batch {
            switch kind {
            case .cls, .pooler:
                for c in 0..<width {
                    gradient.elements[b * length * width + c] = pooledGradient.elements[b * width + c]
                }
            case .mean:
                let count = max(weight(b, length: length, mask: mask), 1e-9)
                for t in 0..<length where mask[b * length + t] != 0 {
                    let row = (b * length + t) * width
                    let scale = mask[b * length + t] / count
                    for c in 0..<width { gradient.elements[row + c] = pooledGradient.elements[b * width + c] * scale }
                }
            }
        }
        return gradient
    }
}

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
