import LinearAlgebra

/// `y = x Wᵀ + b` over rows of `x`, with `W` of shape `[out, in]` (PyTorch's layout).
///
/// Three ways to train it: dense (`weight.trainable`), frozen, or singular-value
/// parameterised (`W = W0 + U diag(s) Vᵀ`, AXIS Stage 2) where only `s` trains. The
/// low-rank path never builds `W(s)`: `y = x W0ᵀ + ((x V) ⊙ s) Uᵀ + b`, and
/// `∂L/∂s_j = Σ_rows (x V)_j (g U)_j` with `g = ∂L/∂y`. Cost per row: `O(in·out)` for
/// the frozen part plus `O((in + out)·N)`.
final class Linear: Layer {
    /// The trainable singular values and their frozen directions.
    struct SingularValues {
        /// `[out, N]`.
        let u: Matrix
        /// `[in, N]`.
        let v: Matrix
        /// `1 x N`.
        let s: Parameter
        /// The merge's values of these N directions (what `s` would be without training).
        let merged: [Float]
    }

    /// `[out, in]` (a conv kernel `[out, c, h, w]` acts on flattened patches); in singular-value mode, the frozen part `W0` (with every factor
    /// component that does not train already folded in).
    let weight: Parameter
    let bias: Parameter?
    let singular: SingularValues?
    /// Skip computing `∂L/∂x` (the first layer of a network needs none).
    var needsInputGradient = true
    private var input: Matrix?
    private var projected: Matrix?

    init(weight: Parameter, bias: Parameter?, singular: SingularValues? = nil) {
        self.weight = weight
        self.bias = bias
        self.singular = singular
    }

    var outputs: Int { weight.value.rows }
    var inputs: Int { weight.value.columns }

    var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) + (singular.map { [$0.s] } ?? []) }

    func forward(_ input: Matrix) throws -> Matrix {
        self.input = input
        var output = Matrix(zeros: input.rows, outputs)
        try BLAS.gemm(input, weight.value, transposeB: true, into: &output)
        if let bias {
            output.elements.withUnsafeMutableBufferPointer { values in
                bias.value.elements.withUnsafeBufferPointer { b in
                    for row in 0..<input.rows {
                        for column in 0..<b.count { values[row * b.count + column] += b[column] }
                    }
                }
            }
        }
        if let singular {
            var projected = try BLAS.multiply(input, singular.v)
            self.projected = projected
            projected = projected.scalingColumns(by: singular.s.value.elements)
            try BLAS.gemm(projected, singular.u, transposeB: true, beta: 1, into: &output)
        }
        return output
    }

    func backward(_ outputGradient: Matrix) throws -> Matrix {
        guard let input else { preconditionFailure("backward before forward") }
        if weight.trainable {
            try BLAS.gemm(outputGradient, transposeA: true, input, beta: 1, into: &weight.gradient)
        }
        if let bias, bias.trainable {
            let sums = outputGradient.columnSums
            for index in sums.indices { bias.gradient.elements[index] += sums[index] }
        }
        var inputGradient = Matrix(zeros: needsInputGradient ? input.rows : 0, inputs)
        if needsInputGradient {
            try BLAS.gemm(outputGradient, weight.value, into: &inputGradient)
        }
        if let singular, let projected {
            let back = try BLAS.multiply(outputGradient, singular.u)  // g U: [rows, N]
            if singular.s.trainable {
                let n = singular.s.count
                var sums = [Float](repeating: 0, count: n)
                back.elements.withUnsafeBufferPointer { g in
                    projected.elements.withUnsafeBufferPointer { p in
                        for row in 0..<back.rows {
                            for j in 0..<n { sums[j] += g[row * n + j] * p[row * n + j] }
                        }
                    }
                }
                for j in 0..<n { singular.s.gradient.elements[j] += sums[j] }
            }
            if needsInputGradient {
                try BLAS.gemm(
                    back.scalingColumns(by: singular.s.value.elements), singular.v, transposeB: true, beta: 1,
                    into: &inputGradient)
            }
        }
        return inputGradient
    }

    /// The dense weight this layer computes with: `W0 + U diag(s) Vᵀ` in singular-value
    /// mode (built once, for writing the tuned model).
    func effectiveWeight() throws -> Matrix {
        guard let singular else { return weight.value }
        var dense = weight.value
        try BLAS.gemm(
            singular.u.scalingColumns(by: singular.s.value.elements), singular.v, transposeB: true, beta: 1,
            into: &dense)
        return dense
    }
}
