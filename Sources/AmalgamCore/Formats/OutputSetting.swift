/// The output settings a user can give for any written model (`--quant`, an output's
/// `"compress": true` in a recipe); each writer takes the ones it understands.
public enum OutputSetting: String, CaseIterable, Sendable, Hashable {
    case maximumShardSize = "max-shard-size"
    case compress
    case keepDType = "keep-dtype"
    case quant
    case importanceMatrix = "imatrix"
    case template
    case externalData = "external-data"
    case architecture = "arch"
}
