import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

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
