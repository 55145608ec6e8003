import Dispatch
import Synchronization

/// How many threads Amalgam may use, and how a phase divides them: one policy for
/// conversion, merging and training. The count comes from the cores this process may run on,
/// or from `--threads`. Work is always cut into the same pieces whatever the count, so
/// results do not depend on it; the count only decides how many pieces run at once.
public struct Parallelism: Sendable, Hashable, CustomStringConvertible {
    /// Threads in all, at least 1.
    public let threads: Int

    /// `threads` when given, else the cores this process may run on.
    public init(threads: Int? = nil) {
        self.threads = max(1, threads ?? SystemCall.availableCores)
    }

    /// The cores this process may run on, as read once (every `gemm` asks for `current`;
    /// reading `/proc` each time cost a third of a second per thousand calls).
    public static var machine: Parallelism { Parallelism(threads: machineCores) }

    private static let machineCores = SystemCall.availableCores

    private static let stored = Atomic<Int>(0)

    /// The policy of this process, used where no caller passes one down (bulk element
    /// conversion, block decoding inside lazily loaded tensors). Front ends set it once from
    /// `--threads`; by default it is `machine`.
    public static var current: Parallelism {
        get {
            let value = stored.load(ordering: .relaxed)
            return value > 0 ? Parallelism(threads: value) : .machine
        }
        set { stored.store(newValue.threads, ordering: .relaxed) }
    }

    /// How many of `items` independent items (tensors to merge) run at once: one per thread.
    public func workers(for items: Int) -> Int { max(1, min(threads, items)) }

    /// Runs `body(index)` for every index in `0..<count`, on up to `threads` threads at once.
    /// Each index must touch only its own data; the caller cuts the work, so the result is the
    /// same for every thread count.
    public func forEach(_ count: Int, _ body: @Sendable (Int) -> Void) {
        let workers = min(threads, count)
        guard workers > 1 else {
            for index in 0..<count { body(index) }
            return
        }
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < count else { return }
                body(index)
            }
        }
    }

    /// `forEach` over `0..<count` cut into `pieces` contiguous ranges of near-equal length
    /// (the cut depends on `pieces` only, never on `threads`).
    public func forEachRange(_ count: Int, pieces: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let parts = max(1, min(pieces, count))
        forEach(parts) { part in body((part * count / parts)..<((part + 1) * count / parts)) }
    }

    public var description: String { "\(threads) thread\(threads == 1 ? "" : "s")" }
}
