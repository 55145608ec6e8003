import AmalgamCore
import LinearAlgebra

/// A classifier built from a model's tensors: logits for a batch, and the gradients of
/// every trainable parameter for the logits' gradient.
protocol Network: AnyObject {
    func forward(_ inputs: Inputs) throws -> Matrix
    func backward(_ logitsGradient: Matrix) throws
    /// Every parameter, frozen ones included, each once.
    var parameters: [Parameter] { get }
    /// Linear layers whose weight to write back as `effectiveWeight()`.
    var linears: [Linear] { get }
    var classes: Int { get }
    /// Checks that `data` (read from `path`) is the input this network takes: the layout,
    /// widths, token ids against the vocabulary, lengths against the positions.
    func check(_ data: Dataset, path: String) throws
    /// Metadata the trained model records so it is rebuilt the same way (`amalgam.activation`).
    var recordedMetadata: [(key: String, value: MetadataValue)] { get }
    /// The last hidden state of every token, `[batch·length, width]`, where the network has one.
    func hiddenStates(_ inputs: Inputs) throws -> Matrix
    var hasHiddenStates: Bool { get }
}

extension Network {
    var recordedMetadata: [(key: String, value: MetadataValue)] { [] }

    func hiddenStates(_ inputs: Inputs) throws -> Matrix {
        throw AmalgamError(.unsupported, "hidden states are available for BERT encoders")
    }

    var hasHiddenStates: Bool { false }
}
