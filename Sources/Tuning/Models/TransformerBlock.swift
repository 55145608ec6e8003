import AmalgamCore
import LinearAlgebra

/// One transformer block in Hugging Face's BERT (post-LN) or ViT (pre-LN) arrangement.
final class TransformerBlock {
    let attention: SelfAttention
    let attentionOutput: Linear
    let attentionNorm: LayerNorm
    let intermediate: Linear
    let activation: ActivationLayer
    let output: Linear
    let outputNorm: LayerNorm
    /// ViT: `x + f(LN(x))`; BERT: `LN(x + f(x))`.
    let preNorm: Bool

    init(store: ParameterStore, prefix: String, heads: Int, epsilon: Float, activation: Activation, vit: Bool) throws {
        let attentionPrefix = prefix + (vit ? ".attention.attention" : ".attention.self")
        attention = SelfAttention(
            query: try store.linear(attentionPrefix + ".query"), key: try store.linear(attentionPrefix + ".key"),
            value: try store.linear(attentionPrefix + ".value"), heads: heads)
        attentionOutput = try store.linear(prefix + ".attention.output.dense")
        intermediate = try store.linear(prefix + ".intermediate.dense")
        output = try store.linear(prefix + ".output.dense")
        if vit {
            attentionNorm = try store.layerNorm(prefix + ".layernorm_before", epsilon: epsilon)
            outputNorm = try store.layerNorm(prefix + ".layernorm_after", epsilon: epsilon)
        } else {
            attentionNorm = try store.layerNorm(prefix + ".attention.output.LayerNorm", epsilon: epsilon)
            outputNorm = try store.layerNorm(prefix + ".output.LayerNorm", epsilon: epsilon)
        }
        self.activation = ActivationLayer(activation)
        preNorm = vit
    }

    var parameters: [Parameter] {
        attention.parameters + attentionOutput.parameters + attentionNorm.parameters + intermediate.parameters
            + output.parameters + outputNorm.parameters
    }

    var linears: [Linear] { [attention.query, attention.key, attention.value, attentionOutput, intermediate, output] }

    func forward(_ x: Matrix, batch: Int, length: Int, mask: [Float]) throws -> Matrix {
        if preNorm {
            // Each sum goes into the freshly computed branch (x and h are still referenced:
            // adding into them would copy them first); addition is commutative, bit for bit.
            var h = try attentionOutput.forward(
                try attention.forward(try attentionNorm.forward(x), batch: batch, length: length, keyMask: mask))
            h.add(x)
            var out = try output.forward(try activation.forward(try intermediate.forward(try outputNorm.forward(h))))
            out.add(h)
            return out
        }
        var a = try attentionOutput.forward(try attention.forward(x, batch: batch, length: length, keyMask: mask))
        a.add(x)
        let h = try attentionNorm.forward(a)
        var o = try output.forward(try activation.forward(try intermediate.forward(h)))
        o.add(h)
        return try outputNorm.forward(o)
    }

    /// Backward through `blocks`, last first. When nothing below them trains (`inputsTrain`
    /// false) no gradient is needed under the lowest block that trains: blocks below it are
    /// skipped and it skips its input gradient, as autograd does (AXIS Stage 2 freezes the
    /// embeddings). Returns `∂L/∂(the first block's input)`, or nil when it is not needed.
    static func backward(through blocks: [TransformerBlock], _ gradient: Matrix, inputsTrain: Bool) throws -> Matrix? {
        let lowest =
            inputsTrain ? 0 : blocks.firstIndex { $0.parameters.contains(where: \.trainable) } ?? blocks.count
        var g = gradient
        for index in blocks.indices.reversed() where index >= lowest {
            g = try blocks[index].backward(g, needsInputGradient: inputsTrain || index > lowest)
        }
        return inputsTrain ? g : nil
    }

    /// Accumulates the gradients of the block's parameters and returns `∂L/∂x`.
    /// - Parameter needsInputGradient: false when nothing below the block trains: the
    ///   query, key and value projections then skip their input gradients (the block's
    ///   own parameters still get theirs) and the result has no rows.
    func backward(_ gradient: Matrix, needsInputGradient: Bool = true) throws -> Matrix {
        // Pre-LN: the projections' input gradient also feeds layernorm_before's parameters.
        let skipsInput = !needsInputGradient && !(preNorm && attentionNorm.parameters.contains(where: \.trainable))
        for projection in [attention.query, attention.key, attention.value] {
            projection.needsInputGradient = !skipsInput
        }
        if preNorm {
            var dh = try outputNorm.backward(
                try intermediate.backward(try activation.backward(try output.backward(gradient))))
            dh.add(gradient)
            let attentionGradient = try attention.backward(try attentionOutput.backward(dh))
            if skipsInput { return Matrix(zeros: 0, gradient.columns) }
            var dx = try attentionNorm.backward(attentionGradient)
            dx.add(dh)
            return dx
        }
        let g = try outputNorm.backward(gradient)
        var dh = try intermediate.backward(try activation.backward(try output.backward(g)))
        dh.add(g)
        let g1 = try attentionNorm.backward(dh)
        var dx = try attention.backward(try attentionOutput.backward(g1))
        if skipsInput { return Matrix(zeros: 0, gradient.columns) }
        dx.add(g1)
        return dx
    }
}
