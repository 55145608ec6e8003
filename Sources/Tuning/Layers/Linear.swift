import LinearAlgebra

/// `y = x Wᵀ + b` over rows of `x`, with `W` of shape `[out, in]` (PyTorch's layout).
///
/// Three ways to train it: dense (`weight.trainable`), frozen, or singular-value
/// parameterised (`W = W0 + U diag(s) Vᵀ`, AXIS Stage 2) where only `s` trains. The
/// singular-value path computes with `W(s)` folded densely once per value of `s` (a
/// `[out, N] x [N, in]` product per optimiser step, cheaper than carrying the low-rank term
/// through every row twice), and `∂L/∂s_j = Σ_rows (x V)_j (g U)_j` with `g = ∂L/∂y`.
/// Cost per row: `O(in·out)`, plus `O((in + out)·N)` for the gradient of `s`.
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
    /// `x V` of the last forward pass (singular-value mode, `s` trainable).
    private var projected: Matrix?
    /// `W0 + U diag(s) Vᵀ` and the `s` it was folded with (singular-value mode).
    private var folded: (weight: Matrix, values: [Float])?

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
        let weight = try currentWeight()
        // The bias rows first, the product added onto them (as `addmm`): no pass of its own.
        var output: Matrix
        if let bias {
            output = Matrix(rows: input.rows, columns: outputs, repeatingRow: bias.value.elements)
            try BLAS.gemm(input, weight, transposeB: true, beta: 1, into: &output)
        } else {
            output = try BLAS.multiply(input, weight, transposeB: true)
        }
        if let singular, singular.s.trainable {
            projected = try BLAS.multiply(input, singular.v)
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
        if let singular, singular.s.trainable, let projected {
            let back = try BLAS.multiply(outputGradient, singular.u)  // g U: [rows, N]
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
        guard needsInputGradient else { return Matrix(zeros: 0, inputs) }
        return try BLAS.multiply(outputGradient, try currentWeight())
    }

    /// The dense weight this layer computes with: `W0 + U diag(s) Vᵀ` in singular-value
    /// mode (for writing the tuned model).
    func effectiveWeight() throws -> Matrix { try currentWeight() }

    /// `W`, or in singular-value mode `W(s)` for the current `s`, folded again only when `s`
    /// (or a trainable `W0`) changed since the last fold.
    private func currentWeight() throws -> Matrix {
        guard let singular else { return weight.value }
        let values = singular.s.value.elements
        if let folded, folded.values == values, !weight.trainable { return folded.weight }
        var dense = weight.value
        try BLAS.gemm(singular.u.scalingColumns(by: values), singular.v, transposeB: true, beta: 1, into: &dense)
        folded = (dense, values)
        return dense
    }
}
