#if canImport(Glibc)
import Glibc
#endif
import LinearAlgebra

/// Multi-head scaled dot-product self-attention over a batch of sequences, with the query,
/// key and value projections; padded keys (mask 0) get no attention. The output projection
/// is a separate `Linear` (it has its own name in every architecture).
///
/// Rows of the input are tokens, `batch` sequences of `length` tokens each.
final class SelfAttention {
    let query: Linear
    let key: Linear
    let value: Linear
    let heads: Int

    private var batch = 0, length = 0
    private var keyMask: [Float] = []
    private var q = Matrix(zeros: 0, 0), k = Matrix(zeros: 0, 0), v = Matrix(zeros: 0, 0)
    /// Attention probabilities per (sequence, head), `length x length` each.
    private var probabilities: [Matrix] = []

    init(query: Linear, key: Linear, value: Linear, heads: Int) {
        precondition(query.outputs % heads == 0, "width \(query.outputs) is not a multiple of \(heads) heads")
        self.query = query
        self.key = key
        self.value = value
        self.heads = heads
    }

    var parameters: [Parameter] { query.parameters + key.parameters + value.parameters }

    private var headWidth: Int { query.outputs / heads }

    /// Copies head `h` of sequence `b` out of a `[batch·length, width]` matrix.
    private func slice(_ matrix: Matrix, _ b: Int, _ h: Int) -> Matrix {
        let d = headWidth, width = matrix.columns
        var result = Matrix(zeros: length, d)
        for t in 0..<length {
            let source = (b * length + t) * width + h * d
            for j in 0..<d { result.elements[t * d + j] = matrix.elements[source + j] }
        }
        return result
    }

    private func place(_ part: Matrix, into matrix: inout Matrix, _ b: Int, _ h: Int) {
        let d = headWidth, width = matrix.columns
        for t in 0..<length {
            let target = (b * length + t) * width + h * d
            for j in 0..<d { matrix.elements[target + j] = part.elements[t * d + j] }
        }
    }

    /// - Parameters:
    ///   - keyMask: `batch·length` values, 1 for real tokens and 0 for padding.
    func forward(_ input: Matrix, batch: Int, length: Int, keyMask: [Float]) throws -> Matrix {
        self.batch = batch
        self.length = length
        self.keyMask = keyMask
        q = try query.forward(input)
        k = try key.forward(input)
        v = try value.forward(input)
        let scale = 1 / Float(headWidth).squareRoot()
        var context = Matrix(zeros: input.rows, query.outputs)
        probabilities = []
        probabilities.reserveCapacity(batch * heads)
        for b in 0..<batch {
            for h in 0..<heads {
                let qh = slice(q, b, h), kh = slice(k, b, h), vh = slice(v, b, h)
                var scores = Matrix(zeros: length, length)
                try BLAS.gemm(qh, kh, transposeB: true, alpha: scale, into: &scores)
                for i in 0..<length {
                    let row = i * length
                    var largest = -Float.greatestFiniteMagnitude
                    for j in 0..<length {
                        if keyMask[b * length + j] == 0 { scores.elements[row + j] = -Float.greatestFiniteMagnitude }
                        largest = max(largest, scores.elements[row + j])
                    }
                    var sum: Float = 0
                    for j in 0..<length {
                        let e = expf(scores.elements[row + j] - largest)
                        scores.elements[row + j] = e
                        sum += e
                    }
                    for j in 0..<length { scores.elements[row + j] /= sum }
                }
                let part = try BLAS.multiply(scores, vh)
                place(part, into: &context, b, h)
                probabilities.append(scores)
            }
        }
        return context
    }

    /// Returns `∂L/∂input` (through all three projections).
    func backward(_ contextGradient: Matrix) throws -> Matrix {
        let scale = 1 / Float(headWidth).squareRoot()
        var dq = Matrix(zeros: q.rows, q.columns), dk = dq, dv = dq
        for b in 0..<batch {
            for h in 0..<heads {
                let p = probabilities[b * heads + h]
                let dc = slice(contextGradient, b, h)
                let qh = slice(q, b, h), kh = slice(k, b, h), vh = slice(v, b, h)
                var dp = try BLAS.multiply(dc, vh, transposeB: true)
                place(try BLAS.multiply(p, transposeA: true, dc), into: &dv, b, h)
                for i in 0..<length {
                    let row = i * length
                    var dot: Float = 0
                    for j in 0..<length { dot += dp.elements[row + j] * p.elements[row + j] }
                    for j in 0..<length { dp.elements[row + j] = p.elements[row + j] * (dp.elements[row + j] - dot) }
                }
                var part = Matrix(zeros: length, headWidth)
                try BLAS.gemm(dp, kh, alpha: scale, into: &part)
                place(part, into: &dq, b, h)
                try BLAS.gemm(dp, transposeA: true, qh, alpha: scale, into: &part)
                place(part, into: &dk, b, h)
            }
        }
        var inputGradient = try query.backward(dq)
        inputGradient.add(try key.backward(dk))
        inputGradient.add(try value.backward(dv))
        return inputGradient
    }
}
