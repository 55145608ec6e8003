/// What `amalgam verify` learns from a file's structure: every rule of the format it breaks
/// and, in strict mode, what readers tolerate but the reference writer never produces.
public struct FileAudit: Sendable {
    /// Broken rules, in the order the parser met them. Empty when the structure is sound.
    public var faults: [AmalgamError]
    /// Strict mode only: unaligned data, unsorted keys, trailing bytes and the like.
    public var departures: [AmalgamError]

    public init(faults: [AmalgamError] = [], departures: [AmalgamError] = []) {
        self.faults = faults
        self.departures = departures
    }
}

/// Where a parser in audit mode puts the faults it can go on past. A parser given no log
/// (ordinary reading) throws the first fault instead, so reading and auditing share one
/// set of rules.
public final class FaultLog {
    /// True when departures (tolerated oddities) are wanted as well.
    public let strict: Bool
    public private(set) var audit = FileAudit()

    public init(strict: Bool) { self.strict = strict }

    /// Runs `parse` on a fresh log: what it records, plus the fault it throws (the fatal
    /// one), every entry naming `path`.
    public static func audit(_ path: String, strict: Bool, _ parse: (FaultLog) throws -> Void) -> FileAudit {
        let log = FaultLog(strict: strict)
        do { try parse(log) } catch { log.record(AmalgamError.attributed(error)) }
        var audit = log.audit
        audit.faults = audit.faults.map { $0.adding(file: path) }
        audit.departures = audit.departures.map { $0.adding(file: path) }
        return audit
    }

    public func record(_ fault: AmalgamError) { audit.faults.append(fault) }

    /// Records a departure when strict; otherwise does nothing.
    public func depart(_ departure: @autoclosure () -> AmalgamError) {
        if strict { audit.departures.append(departure()) }
    }
}

extension Optional where Wrapped == FaultLog {
    /// Records `fault` when auditing (parsing goes on); throws it when reading.
    public func report(_ fault: AmalgamError) throws(AmalgamError) {
        guard let log = self else { throw fault }
        log.record(fault)
    }
}
