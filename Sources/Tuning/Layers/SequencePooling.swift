import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

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
