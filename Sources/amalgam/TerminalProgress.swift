import Amalgam
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A progress bar on stderr: drawn only when stderr is a terminal and the phase has run
/// for more than a second; redrawn at most ten times a second; erased when done.
final class TerminalProgress: ProgressReporter {
    private struct State {
        var label = ""
        var total: Int64 = 0
        var done: Int64 = 0
        var started = 0.0
        var lastDraw = 0.0
        var drawn = false
    }

    private let state = Mutex(State())
    private let enabled: Bool

    init(enabled: Bool = Terminal.stderrIsTerminal) { self.enabled = enabled }

    func begin(label: String, total: Int64) {
        state.withLock { $0 = State(label: label, total: total, started: Terminal.now()) }
    }

    func advance(by units: Int64) {
        guard enabled else { return }
        state.withLock { state in
            state.done += units
            let now = Terminal.now()
            guard now - state.started > 1, now - state.lastDraw > 0.1 else { return }
            state.lastDraw = now
            state.drawn = true
            let fraction = state.total > 0 ? min(1, Double(state.done) / Double(state.total)) : 0
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let rate = Double(state.done) / (now - state.started)
            Terminal.writeAll(
                2,
                "\r[\(bar)] \(Int(fraction * 100))% \(ByteSize.format(Int(state.done)))/\(ByteSize.format(Int(state.total))) \(ByteSize.format(Int(rate)))/s \(state.label)\u{1B}[K"
            )
        }
    }

    func finish() {
        guard enabled else { return }
        state.withLock { state in
            if state.drawn { Terminal.writeAll(2, "\r\u{1B}[K") }
            state.drawn = false
        }
    }
}
