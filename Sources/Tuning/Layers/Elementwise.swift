#if canImport(Glibc)
import Glibc
#endif
import LinearAlgebra

/// The activation functions a network can use between linear layers.
public enum Activation: String, Sendable, CaseIterable {
    case relu
    /// GELU in its exact form, `x Φ(x)` (BERT's and ViT's `gelu`).
    case gelu
    /// GELU's tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    case geluTanh = "gelu_tanh"
    case tanh

    /// Hugging Face's `hidden_act` names.
    public init?(huggingFace name: String) {
        switch name {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast": self = .geluTanh
        case "relu": self = .relu
        case "tanh": self = .tanh
        default: return nil
        }
    }
}

/// An activation applied element-wise.
final class ActivationLayer: Layer {
    let function: Activation
    private var input: Matrix?

    init(_ function: Activation) { self.function = function }

    var parameters: [Parameter] { [] }

    private static let tanhScale = Float((2 / Double.pi).squareRoot())

    func forward(_ input: Matrix) throws -> Matrix {
        self.input = input
        var output = input
        output.elements.withUnsafeMutableBufferPointer { values in
            switch function {
            case .relu:
                for i in 0..<values.count { values[i] = max(values[i], 0) }
            case .gelu:
                for i in 0..<values.count { let x = values[i]; values[i] = 0.5 * x * (1 + erff(x / Float(2).squareRoot())) }
            case .geluTanh:
                for i in 0..<values.count {
                    let x = values[i]
                    values[i] = 0.5 * x * (1 + tanhf(Self.tanhScale * (x + 0.044715 * x * x * x)))
                }
            case .tanh:
                for i in 0..<values.count { values[i] = tanhf(values[i]) }
            }
        }
        return output
    }

    func backward(_ outputGradient: Matrix) throws -> Matrix {
        guard let input else { preconditionFailure("backward before forward") }
        var gradient = outputGradient
        gradient.elements.withUnsafeMutableBufferPointer { g in
            input.elements.withUnsafeBufferPointer { xs in
                switch function {
                case .relu:
                    for i in 0..<g.count where xs[i] <= 0 { g[i] = 0 }
                case .gelu:
                    let inverseRoot2 = 1 / Float(2).squareRoot(), density = 1 / Float(2 * Double.pi).squareRoot()
                    for i in 0..<g.count {
                        let x = xs[i]
                        g[i] *= 0.5 * (1 + erff(x * inverseRoot2)) + x * density * expf(-0.5 * x * x)
                    }
                case .geluTanh:
                    for i in 0..<g.count {
                        let x = xs[i]
                        let inner = Self.tanhScale * (x + 0.044715 * x * x * x)
                        let t = tanhf(inner)
                        let derivative = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * Self.tanhScale * (1 + 3 * 0.044715 * x * x)
                        g[i] *= derivative
                    }
                case .tanh:
                    for i in 0..<g.count { let t = tanhf(xs[i]); g[i] *= 1 - t * t }
                }
            }
        }
        return gradient
    }
}

/// Layer normalisation over each row: `(x − mean) / sqrt(var + eps) · γ + β`.
final class LayerNorm: Layer {
    let gamma: Parameter
    let beta: Parameter
    let epsilon: Float
    private var normalized: Matrix?
    private var inverseDeviation: [Float] = []

    init(gamma: Parameter, beta: Parameter, epsilon: Float) {
        self.gamma = gamma
        self.beta = beta
        self.epsilon = epsilon
    }

    var parameters: [Parameter] { [gamma, beta] }

    func forward(_ input: Matrix) throws -> Matrix {
        let width = input.columns
        var normalized = input
        var output = input
        inverseDeviation = [Float](repeating: 0, count: input.rows)
        normalized.elements.withUnsafeMutableBufferPointer { xhat in
            output.elements.withUnsafeMutableBufferPointer { y in
                for row in 0..<input.rows {
                    let base = row * width
                    var mean: Double = 0
                    for c in 0..<width { mean += Double(xhat[base + c]) }
                    mean /= Double(width)
                    var variance: Double = 0
                    for c in 0..<width { let d = Double(xhat[base + c]) - mean; variance += d * d }
                    variance /= Double(width)
                    let inverse = Float(1 / (variance + Double(epsilon)).squareRoot())
                    inverseDeviation[row] = inverse
                    for c in 0..<width {
                        let value = (xhat[base + c] - Float(mean)) * inverse
                        xhat[base + c] = value
                        y[base + c] = value * gamma.value.elements[c] + beta.value.elements[c]
                    }
                }
            }
        }
        self.normalized = normalized
        return output
    }

    func backward(_ outputGradient: Matrix) throws -> Matrix {
        guard let normalized else { preconditionFailure("backward before forward") }
        let width = outputGradient.columns
        var inputGradient = outputGradient
        for row in 0..<outputGradient.rows {
            let base = row * width
            var meanGradient: Float = 0, meanProduct: Float = 0
            for c in 0..<width {
                let dy = outputGradient.elements[base + c]
                let xhat = normalized.elements[base + c]
                if gamma.trainable { gamma.gradient.elements[c] += dy * xhat }
                if beta.trainable { beta.gradient.elements[c] += dy }
                let dxhat = dy * gamma.value.elements[c]
                meanGradient += dxhat
                meanProduct += dxhat * xhat
            }
            meanGradient /= Float(width)
            meanProduct /= Float(width)
            let inverse = inverseDeviation[row]
            for c in 0..<width {
                let dxhat = outputGradient.elements[base + c] * gamma.value.elements[c]
                inputGradient.elements[base + c] = inverse * (dxhat - meanGradient - normalized.elements[base + c] * meanProduct)
            }
        }
        return inputGradient
    }
}

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
        for (position, id) in ids.enumerated() {
            for c in 0..<width { table.gradient.elements[id * width + c] += outputGradient.elements[position * width + c] }
        }
    }
}
