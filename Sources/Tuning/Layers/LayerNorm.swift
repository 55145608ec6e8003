import AmalgamCore
import LinearAlgebra

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

    /// Rows are split into this many fixed chunks (whatever the thread count), so the
    /// parameter gradients' partial sums, added chunk by chunk, do not depend on it.
    private static let chunks = 8

    private static func rows(of chunk: Int, in count: Int) -> Range<Int> {
        (chunk * count / chunks)..<((chunk + 1) * count / chunks)
    }

    func forward(_ input: Matrix) throws -> Matrix {
        let (rows, width, epsilon) = (input.rows, input.columns, Double(self.epsilon))
        var normalized = input
        var output = input
        var inverses = [Float](repeating: 0, count: rows)
        normalized.elements.withUnsafeMutableBufferPointer { xhat in
            output.elements.withUnsafeMutableBufferPointer { y in
                gamma.value.elements.withUnsafeBufferPointer { gammaValues in
                    beta.value.elements.withUnsafeBufferPointer { betaValues in
                        inverses.withUnsafeMutableBufferPointer { inverses in
                            let (xhat, y, inverses) = (
                                UncheckedBuffer(xhat), UncheckedBuffer(y), UncheckedBuffer(inverses)
                            )
                            let (gammaValues, betaValues) = (UncheckedBuffer(gammaValues), UncheckedBuffer(betaValues))
                            Parallel.ranges(rows, threshold: max(2, (1 << 16) / max(width, 1))) { range in
                                let (xhat, y, g, b) = (xhat.base!, y.base!, gammaValues.base!, betaValues.base!)
                                for row in range {
                                    let x = xhat + row * width
                                    let mean = ElementwiseMath.sum(x, count: width) / Double(width)
                                    let variance =
                                        ElementwiseMath.sumOfSquares(x, count: width, minus: mean) / Double(width)
                                    let inverse = Float(1 / (variance + epsilon).squareRoot())
                                    inverses[row] = inverse
                                    let (center, out) = (Float(mean), y + row * width)
                                    for c in 0..<width {
                                        let value = (x[c] - center) * inverse
                                        x[c] = value
                                        out[c] = value * g[c] + b[c]
                                    }
                                }
                            }
                        }
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
        let (rows, width) = (outputGradient.rows, outputGradient.columns)
        let trains = gamma.trainable || beta.trainable
        var inputGradient = outputGradient
        // Per chunk: γ's partial gradient, then β's.
        var partials = [Float](repeating: 0, count: trains ? Self.chunks * 2 * width : 0)
        inputGradient.elements.withUnsafeMutableBufferPointer { dx in
            outputGradient.elements.withUnsafeBufferPointer { dy in
                normalized.elements.withUnsafeBufferPointer { xhat in
                    gamma.value.elements.withUnsafeBufferPointer { gammaValues in
                        inverseDeviation.withUnsafeBufferPointer { inverses in
                            partials.withUnsafeMutableBufferPointer { partials in
                                let (dx, dy, xhat) = (UncheckedBuffer(dx), UncheckedBuffer(dy), UncheckedBuffer(xhat))
                                let (gammaValues, inverses, partials) = (
                                    UncheckedBuffer(gammaValues), UncheckedBuffer(inverses), UncheckedBuffer(partials)
                                )
                                let work = rows * width >= 1 << 16 ? Parallelism.current : Parallelism(threads: 1)
                                work.forEach(Self.chunks) { chunk in
                                    let (dx, dy, xhat, g) = (dx.base!, dy.base!, xhat.base!, gammaValues.base!)
                                    for row in Self.rows(of: chunk, in: rows) {
                                        let (d, x, out) = (dy + row * width, xhat + row * width, dx + row * width)
                                        if trains {
                                            let gammaPartial = partials.base! + chunk * 2 * width
                                            let betaPartial = gammaPartial + width
                                            for c in 0..<width {
                                                gammaPartial[c] += d[c] * x[c]
                                                betaPartial[c] += d[c]
                                            }
                                        }
                                        var (sums, products) = (SIMD8<Float>(), SIMD8<Float>())
                                        var c = 0
                                        while c + 8 <= width {
                                            let dxhat = Self.load(d, c) * Self.load(g, c)
                                            sums += dxhat
                                            products += dxhat * Self.load(x, c)
                                            c += 8
                                        }
                                        var (meanGradient, meanProduct) = (sums.sum(), products.sum())
                                        while c < width {
                                            meanGradient += d[c] * g[c]
                                            meanProduct += d[c] * g[c] * x[c]
                                            c += 1
                                        }
                                        meanGradient /= Float(width)
                                        meanProduct /= Float(width)
                                        let inverse = inverses[row]
                                        for c in 0..<width {
                                            out[c] = inverse * (d[c] * g[c] - meanGradient - x[c] * meanProduct)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if trains {
            for chunk in 0..<Self.chunks {
                let base = chunk * 2 * width
                if gamma.trainable { for c in 0..<width { gamma.gradient.elements[c] += partials[base + c] } }
                if beta.trainable { for c in 0..<width { beta.gradient.elements[c] += partials[base + width + c] } }
            }
        }
        return inputGradient
    }

    @inline(__always)
    private static func load(_ pointer: UnsafePointer<Float>, _ index: Int) -> SIMD8<Float> {
        UnsafeRawPointer(pointer + index).loadUnaligned(as: SIMD8<Float>.self)
    }
}
