import AmalgamCore

/// The engine's one form of parallelism: a range cut into as many pieces as the process's
/// policy (`Parallelism.current`) has threads, run at once. Each piece must touch only its
/// own indices, so the cut never changes a result.
enum Parallel {
    /// Runs `body` on `0..<count` in pieces on every thread when `count >= threshold`, else
    /// on the whole range on the calling thread.
    static func ranges(_ count: Int, threshold: Int = 1 << 16, _ body: @Sendable (Range<Int>) -> Void) {
        let policy = Parallelism.current
        guard count >= max(threshold, 2), policy.threads > 1 else { return body(0..<count) }
        policy.forEachRange(count, pieces: policy.threads, body)
    }
}
