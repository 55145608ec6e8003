import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

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
