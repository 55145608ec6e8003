import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

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

/// An activation applied element-wise, on two threads for large inputs.
final class ActivationLayer: Layer {
    let function: Activation
    private var input: Matrix?
    /// GELU: `Φ(x)`, kept from the forward pass for the backward one.
    private var cumulative: [Float] = []

    init(_ function: Activation) { self.function = function }

    var parameters: [Parameter] { [] }

    private static let tanhScale = Float((2 / Double.pi).squareRoot())
    private static let inverseRoot2 = 1 / Float(2).squareRoot()
    private static let density = 1 / Float(2 * Double.pi).squareRoot()

    func forward(_ input: Matrix) throws -> Matrix {
        self.input = input
        var output = input
        let count = input.elements.count
        if function == .gelu { cumulative = [Float](repeating: 0, count: count) }
        output.elements.withUnsafeMutableBufferPointer { values in
            cumulative.withUnsafeMutableBufferPointer { phi in
                let (values, phi) = (UncheckedBuffer(values), UncheckedBuffer(phi))
                let function = self.function
                Parallel.ranges(count) { range in
                    switch function {
                    case .relu:
                        for i in range { values[i] = max(values[i], 0) }
                    case .gelu:
                        for i in range {
                            let x = values[i]
                            let p = 0.5 * (1 + erff(x * Self.inverseRoot2))
                            phi[i] = p
                            values[i] = x * p
                        }
                    case .geluTanh:
                        for i in range {
                            let x = values[i]
                            values[i] = 0.5 * x * (1 + tanhf(Self.tanhScale * (x + 0.044715 * x * x * x)))
                        }
                    case .tanh:
                        for i in range { values[i] = tanhf(values[i]) }
                    }
                }
            }
        }
        return output
    }

    func backward(_ outputGradient: Matrix) throws -> Matrix {
        guard let input else { preconditionFailure("backward before forward") }
        var gradient = outputGradient
        let count = gradient.elements.count
        gradient.elements.withUnsafeMutableBufferPointer { g in
            input.elements.withUnsafeBufferPointer { xs in
                cumulative.withUnsafeBufferPointer { phi in
                    let (g, xs, phi) = (UncheckedBuffer(g), UncheckedBuffer(xs), UncheckedBuffer(phi))
                    let function = self.function
                    Parallel.ranges(count) { range in
                        switch function {
                        case .relu:
                            for i in range where xs[i] <= 0 { g[i] = 0 }
                        case .gelu:
                            for i in range {
                                let x = xs[i]
                                g[i] *= phi[i] + x * Self.density * expf(-0.5 * x * x)
                            }
                        case .geluTanh:
                            for i in range {
                                let x = xs[i]
                                let t = tanhf(Self.tanhScale * (x + 0.044715 * x * x * x))
                                g[i] *=
                                    0.5 * (1 + t) + 0.5 * x * (1 - t * t) * Self.tanhScale * (1 + 3 * 0.044715 * x * x)
                            }
                        case .tanh:
                            for i in range {
                                let t = tanhf(xs[i])
                                g[i] *= 1 - t * t
                            }
                        }
                    }
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
        let gammaValues = gamma.value.elements
        let betaValues = beta.value.elements
        var inverses = [Float](repeating: 0, count: input.rows)
        normalized.elements.withUnsafeMutableBufferPointer { xhat in
            output.elements.withUnsafeMutableBufferPointer { y in
                for row in 0..<input.rows {
                    let base = row * width
                    var mean: Double = 0
                    for c in 0..<width { mean += Double(xhat[base + c]) }
                    mean /= Double(width)
                    var variance: Double = 0
                    for c in 0..<width {
                        let d = Double(xhat[base + c]) - mean
                        variance += d * d
                    }
                    variance /= Double(width)
                    let inverse = Float(1 / (variance + Double(epsilon)).squareRoot())
                    inverses[row] = inverse
                    for c in 0..<width {
                        let value = (xhat[base + c] - Float(mean)) * inverse
                        xhat[base + c] = value
                        y[base + c] = value * gammaValues[c] + betaValues[c]
                    }
                }
            }
        }
        inverseDeviation = inverses
        self.normalized = normalized
        return output
    }

    func backward(_ outputGradient: Matrix) throws -> Matrix {
        guard let normalized else { preconditionFailure("backward before forward") }
        let width = outputGradient.columns
        var inputGradient = outputGradient
        let gammaValues = gamma.value.elements
        let inverses = inverseDeviation
        var gammaGradient = [Float](repeating: 0, count: width)
        var betaGradient = [Float](repeating: 0, count: width)
        inputGradient.elements.withUnsafeMutableBufferPointer { dx in
            outputGradient.elements.withUnsafeBufferPointer { dy in
                normalized.elements.withUnsafeBufferPointer { xhat in
                    for row in 0..<outputGradient.rows {
                        let base = row * width
                        var meanGradient: Float = 0
                        var meanProduct: Float = 0
                        for c in 0..<width {
                            let d = dy[base + c]
                            let x = xhat[base + c]
                            gammaGradient[c] += d * x
                            betaGradient[c] += d
                            let dxhat = d * gammaValues[c]
                            meanGradient += dxhat
                            meanProduct += dxhat * x
                        }
                        meanGradient /= Float(width)
                        meanProduct /= Float(width)
                        let inverse = inverses[row]
                        for c in 0..<width {
                            dx[base + c] =
                                inverse * (dy[base + c] * gammaValues[c] - meanGradient - xhat[base + c] * meanProduct)
                        }
                    }
                }
            }
        }
        if gamma.trainable { for c in 0..<width { gamma.gradient.elements[c] += gammaGradient[c] } }
        if beta.trainable { for c in 0..<width { beta.gradient.elements[c] += betaGradient[c] } }
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
