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
    private var q = Matrix(zeros: 0, 0), k = Matrix(zeros: 0, 0), v = Matrix(zeros: 0, 0)
    /// Attention probabilities, `length x length` per (sequence, head), in that order.
    private var probabilities: [Float] = []

    init(query: Linear, key: Linear, value: Linear, heads: Int) {
        precondition(query.outputs % heads == 0, "width \(query.outputs) is not a multiple of \(heads) heads")
        self.query = query
        self.key = key
        self.value = value
        self.heads = heads
    }

    var parameters: [Parameter] { query.parameters + key.parameters + value.parameters }

    private var headWidth: Int { query.outputs / heads }

    /// Runs `body(sequence)` for every sequence, the batch split over two threads. Each
    /// call touches only its sequence's rows and probability blocks, and its matrix
    /// products are small enough that OpenBLAS runs them on the calling thread.
    private func forEachSequence(_ body: @Sendable (Int) -> Void) {
        Parallel.ranges(batch, threshold: 2) { range in range.forEach(body) }
    }

    /// - Parameters:
    ///   - keyMask: `batch·length` values, 1 for real tokens and 0 for padding.
    func forward(_ input: Matrix, batch: Int, length: Int, keyMask: [Float]) throws -> Matrix {
        self.batch = batch
        self.length = length
        q = try query.forward(input)
        k = try key.forward(input)
        v = try value.forward(input)
        let (heads, d, width, t) = (self.heads, headWidth, query.outputs, length)
        let scale = 1 / Float(d).squareRoot()
        var context = Matrix(zeros: input.rows, width)
        probabilities = [Float](repeating: 0, count: batch * heads * t * t)
        q.elements.withUnsafeBufferPointer { qs in
            k.elements.withUnsafeBufferPointer { ks in
                v.elements.withUnsafeBufferPointer { vs in
                    context.elements.withUnsafeMutableBufferPointer { cs in
                        probabilities.withUnsafeMutableBufferPointer { ps in
                            let (qs, ks, vs) = (UncheckedBuffer(qs), UncheckedBuffer(ks), UncheckedBuffer(vs))
                            let (cs, ps) = (UncheckedBuffer(cs), UncheckedBuffer(ps))
                            forEachSequence { b in
                                for h in 0..<heads {
                                    let offset = b * t * width + h * d
                                    let scores = ps.base! + (b * heads + h) * t * t
                                    BLAS.gemm(
                                        m: t, n: t, k: d, alpha: scale, qs.base! + offset, leading: width,
                                        ks.base! + offset, leading: width, transposeB: true, beta: BLAS.onZeros,
                                        into: scores, leading: t)
                                    for i in 0..<t {
                                        let row = scores + i * t
                                        var largest = -Float.greatestFiniteMagnitude
                                        for j in 0..<t {
                                            if keyMask[b * t + j] == 0 { row[j] = -Float.greatestFiniteMagnitude }
                                            largest = max(largest, row[j])
                                        }
                                        for j in 0..<t {
                                            row[j] = ElementwiseMath.exponential(nonPositive: row[j] - largest)
                                        }
                                        var sum: Float = 0
                                        for j in 0..<t { sum += row[j] }
                                        let inverse = 1 / sum
                                        for j in 0..<t { row[j] *= inverse }
                                    }
                                    BLAS.gemm(
                                        m: t, n: d, k: t, scores, leading: t, vs.base! + offset, leading: width,
                                        beta: BLAS.onZeros, into: cs.base! + offset, leading: width)
                                }
                            }
                        }
                    }
                }
            }
        }
        return context
    }

    /// Returns `∂L/∂input` (through all three projections).
    func backward(_ contextGradient: Matrix) throws -> Matrix {
        let (heads, d, width, t) = (self.heads, headWidth, query.outputs, length)
        let scale = 1 / Float(d).squareRoot()
        var dq = Matrix(zeros: q.rows, q.columns)
        var dk = dq
        var dv = dq
        var scratch = [Float](repeating: 0, count: 2 * t * t)
        let half = batch / 2
        q.elements.withUnsafeBufferPointer { qs in
            k.elements.withUnsafeBufferPointer { ks in
                v.elements.withUnsafeBufferPointer { vs in
                    contextGradient.elements.withUnsafeBufferPointer { dcs in
                        probabilities.withUnsafeBufferPointer { ps in
                            dq.elements.withUnsafeMutableBufferPointer { dqs in
                                dk.elements.withUnsafeMutableBufferPointer { dks in
                                    dv.elements.withUnsafeMutableBufferPointer { dvs in
                                        scratch.withUnsafeMutableBufferPointer { scratch in
                                            let (qs, ks, vs, dcs, ps) = (
                                                UncheckedBuffer(qs), UncheckedBuffer(ks), UncheckedBuffer(vs),
                                                UncheckedBuffer(dcs), UncheckedBuffer(ps)
                                            )
                                            let (dqs, dks, dvs, scratch) = (
                                                UncheckedBuffer(dqs), UncheckedBuffer(dks), UncheckedBuffer(dvs),
                                                UncheckedBuffer(scratch)
                                            )
                                            forEachSequence { b in
                                                // Each half of the batch has its own scratch block.
                                                let dp = scratch.base! + (b < half ? 0 : t * t)
                                                for h in 0..<heads {
                                                    let offset = b * t * width + h * d
                                                    let p = ps.base! + (b * heads + h) * t * t
                                                    let dc = dcs.base! + offset
                                                    BLAS.gemm(
                                                        m: t, n: t, k: d, dc, leading: width, vs.base! + offset,
                                                        leading: width, transposeB: true, into: dp, leading: t)
                                                    BLAS.gemm(
                                                        m: t, n: d, k: t, p, leading: t, transposeA: true, dc,
                                                        leading: width, beta: BLAS.onZeros, into: dvs.base! + offset,
                                                        leading: width)
                                                    for i in 0..<t {
                                                        var dot: Float = 0
                                                        for j in 0..<t { dot += dp[i * t + j] * p[i * t + j] }
                                                        for j in 0..<t {
                                                            dp[i * t + j] = p[i * t + j] * (dp[i * t + j] - dot)
                                                        }
                                                    }
                                                    BLAS.gemm(
                                                        m: t, n: d, k: t, alpha: scale, dp, leading: t,
                                                        ks.base! + offset, leading: width, beta: BLAS.onZeros,
                                                        into: dqs.base! + offset, leading: width)
                                                    BLAS.gemm(
                                                        m: t, n: d, k: t, alpha: scale, dp, leading: t,
                                                        transposeA: true, qs.base! + offset, leading: width,
                                                        beta: BLAS.onZeros, into: dks.base! + offset, leading: width)
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var inputGradient = try query.backward(dq)
        inputGradient.add(try key.backward(dk))
        inputGradient.add(try value.backward(dv))
        return inputGradient
    }
}
