@_exported import MergeKernel
import SafetensorsFormat

/// The merge part of a command that may go on (a recipe's tune stage): its outcome, the
/// factors, and the merged model itself when asked for.
struct MergeStage {
    var outcome: MergeOutcome
    var factors: FactorSet
    /// The merged model, readable again (from a scratch copy), when `keepingGraph`.
    var graph: ModelGraph?
}
