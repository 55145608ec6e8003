import AmalgamCore
import Foundation
import LinearAlgebra

/// A bounded producer/consumer over `count` items: `workers` threads compute items in
/// `schedule` order (the order the consumer is expected to take them), holding at most
/// `window` finished or running items. `take(i)` returns item `i`; an item nobody has
/// started yet is computed on the caller's thread, so a consumer that strays from the
/// schedule is slower, never stuck.
final class Pipeline: @unchecked Sendable {
    private enum State {
        case pending, running
        case done(Result<ByteRegion, any Error>)
        case taken
    }

    private let condition = NSCondition()
    private var states: [State]
    private var schedule: [Int] = []
    private var cursor = 0
    private var held = 0  // running or done, not yet taken
    private var cancelled = false
    private let workers: Int
    private let window: Int
    private var compute: (@Sendable (Int) throws -> ByteRegion)?

    init(count: Int, workers: Int) {
        self.states = Array(repeating: .pending, count: count)
        self.workers = workers
        self.window = workers + 1
    }

    func start(schedule: [Int], _ compute: @escaping @Sendable (Int) throws -> ByteRegion) {
        self.schedule = schedule
        self.compute = compute
        for _ in 0..<workers {
            let thread = Thread { [self] in
                while let index = claimNext() {
                    finish(index, Result { try compute(index) })
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// The next pending item in schedule order, once the window has room; nil when done.
    private func claimNext() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            while cursor < schedule.count, !isPending(schedule[cursor]) { cursor += 1 }
            if cancelled || cursor >= schedule.count { return nil }
            if held < window {
                let index = schedule[cursor]
                states[index] = .running
                held += 1
                return index
            }
            condition.wait()
        }
    }

    private func isPending(_ index: Int) -> Bool {
        if case .pending = states[index] { return true }
        return false
    }

    private func finish(_ index: Int, _ result: Result<ByteRegion, any Error>) {
        condition.lock()
        states[index] = .done(result)
        condition.broadcast()
        condition.unlock()
    }

    func take(_ index: Int) throws -> ByteRegion {
        condition.lock()
        if isPending(index), let compute {
            states[index] = .running
            held += 1
            condition.unlock()
            finish(index, Result { try compute(index) })
            condition.lock()
        }
        while !cancelled {
            if case .done(let result) = states[index] {
                states[index] = .taken
                held -= 1
                condition.broadcast()
                condition.unlock()
                return try result.get()
            }
            if case .taken = states[index] { break }
            condition.wait()
        }
        condition.unlock()
        throw AmalgamError(.internal, cancelled ? "merge cancelled" : "tensor \(index) taken twice")
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
