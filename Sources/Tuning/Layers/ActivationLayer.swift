import LinearAlgebra

#if canImport(Glibc)
    import Glibc
#endif

/// An activation applied element-wise, on two threads for large inputs.
final class ActivationLayer: Layer {
    let function: Activation
    private var input: Matrix?
    /// GELU: its derivative `Φ(x) + x φ(x)`, computed in the forward pass with the value
    /// (one exponential gives both) and kept for the backward one.
    private var slope: [Float] = []

    init(_ function: Activation) { self.function = function }

    var parameters: [Parameter] { [] }

    private static let tanhScale = Float((2 / Double.pi).squareRoot())

    func forward(_ input: Matrix) throws -> Matrix {
        self.input = input
        var output = input
        let count = input.elements.count
        if function == .gelu { slope = [Float](repeating: 0, count: count) }
        output.elements.withUnsafeMutableBufferPointer { values in
            slope.withUnsafeMutableBufferPointer { slope in
                let (values, slope) = (UncheckedBuffer(values), UncheckedBuffer(slope))
                let function = self.function
                Parallel.ranges(count) { range in
                    switch function {
                    case .relu:
                        for i in range { values[i] = max(values[i], 0) }
                    case .gelu:
                        let (values, slope) = (values.base!, slope.base!)
                        for i in range {
                            let x = values[i]
                            let (phi, density) = ElementwiseMath.normal(x)
                            slope[i] = phi + x * density
                            values[i] = x * phi
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
                slope.withUnsafeBufferPointer { slope in
                    let (g, xs, slope) = (UncheckedBuffer(g), UncheckedBuffer(xs), UncheckedBuffer(slope))
                    let function = self.function
                    Parallel.ranges(count) { range in
                        switch function {
                        case .relu:
                            for i in range where xs[i] <= 0 { g[i] = 0 }
                        case .gelu:
                            let (g, slope) = (g.base!, slope.base!)
                            for i in range { g[i] *= slope[i] }
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
