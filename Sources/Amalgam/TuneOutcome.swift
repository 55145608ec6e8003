import Dispatch
@_exported import Tuning

/// What a tuning run did.
public struct TuneOutcome: Sendable {
    public var files: [String]
    public var records: [EpochRecord]
    public var counts: TrainableCounts
    public var log: JSONValue
}
