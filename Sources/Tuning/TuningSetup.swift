import AmalgamCore

/// What to build and how to train it.
public struct TuningSetup: Sendable {
    public var mode: TrainingMode
    /// The architecture's name (`--arch`); nil detects it.
    public var architecture: String?
    /// MLP activation (weights cannot tell); default: the model's `amalgam.activation`
    /// metadata, else ReLU.
    public var activation: Activation?
    public var transformer = TransformerSettings()
    public var singularValueCount: SingularValueCount = .fraction(0.1)
    public var singularValueAllocation: SingularValueAllocation = .uniform
    public var singularValueStart: SingularValueStart = .zero
    /// Where Stage 2's directions come from (the merge's factors by default).
    public var subspace: StageTwoSubspace = .merge
    public var training = TrainingOptions()
    /// How the user named settings they gave (`activation` → `--activation`), so an
    /// architecture that does not take one can say so in the user's words.
    public var labels: [String: String] = [:]

    /// The defaults of `mode`: the paper's learning rate 0.1 for singular values (and 0.01
    /// for a head trained beside them), 0.001 for training weights.
    public init(mode: TrainingMode) {
        self.mode = mode
        if mode == .singularValues {
            training.headLearningRate = Self.stageTwoHeadLearningRate
        } else {
            training.learningRate = 1e-3
        }
    }

    /// Stage 2's head learning rate (the singular values keep 0.1), as the reference
    /// reproduction trains a new head beside them.
    public static let stageTwoHeadLearningRate = 1e-2

    /// Refuses the settings among `names` (`activation`, `heads`, `pooling`) that were given,
    /// for an architecture that does not take them.
    func refuse(_ names: [String], architecture: String) throws {
        let given: [String: Bool] = [
            "activation": activation != nil, "heads": transformer.heads != nil, "pooling": transformer.pooling != nil,
        ]
        for name in names where given[name] == true {
            throw AmalgamError(.usage, "\(labels[name] ?? "--" + name) does not apply to \(architecture) models")
        }
    }
}
