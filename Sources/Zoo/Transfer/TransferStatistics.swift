/// Mean and sample standard deviation of accuracies (as fractions).
public struct Summary: Sendable {
    public let count: Int
    public let mean: Double
    public let standardDeviation: Double

    public init(_ values: [Double]) {
        count = values.count
        mean = values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count)
        let m = mean
        standardDeviation =
            values.count > 1
            ? (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count - 1)).squareRoot() : 0
    }
}

/// AXIS against another method on the same targets and seeds.
public struct PairedDifference: Sendable {
    /// AXIS minus the other method, per pair.
    public let differences: Summary
    public let wins: Int
    public let losses: Int
    public let ties: Int

    init(_ pairs: [(Double, Double)]) {
        let differences = pairs.map { $0.0 - $0.1 }
        self.differences = Summary(differences)
        wins = differences.filter { $0 > 0 }.count
        losses = differences.filter { $0 < 0 }.count
        ties = differences.count - wins - losses
    }
}
