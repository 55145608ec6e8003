import Dispatch

/// The engine's one form of parallelism: a range split in two halves run at once (the
/// machine has two cores). Each half must touch only its own indices.
enum Parallel {
    /// Runs `body` on `0..<count` in two halves at once when `count >= threshold`, else
    /// on the whole range on the calling thread.
    static func halves(_ count: Int, threshold: Int = 1 << 16, _ body: @Sendable (Range<Int>) -> Void) {
        guard count >= max(threshold, 2) else { return body(0..<count) }
        DispatchQueue.concurrentPerform(iterations: 2) { part in
            body(part == 0 ? 0..<(count / 2) : (count / 2)..<count)
        }
    }
}

/// A buffer pointer that may cross into the two halves of `Parallel.halves` (each half
/// touches its own indices).
struct UncheckedBuffer<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>?

    init(_ buffer: UnsafeMutableBufferPointer<Element>) { base = buffer.baseAddress }
    init(_ buffer: UnsafeBufferPointer<Element>) { base = UnsafeMutablePointer(mutating: buffer.baseAddress) }

    subscript(index: Int) -> Element {
        get { base![index] }
        nonmutating set { base![index] = newValue }
    }
}
