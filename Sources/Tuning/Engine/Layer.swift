import LinearAlgebra

/// One step of a network: `forward` keeps what `backward` needs; `backward` takes the
/// gradient of the loss with respect to the output, adds the gradients of trainable
/// parameters, and returns the gradient with respect to the input.
protocol Layer: AnyObject {
    func forward(_ input: Matrix) throws -> Matrix
    func backward(_ outputGradient: Matrix) throws -> Matrix
    var parameters: [Parameter] { get }
}
