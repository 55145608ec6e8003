import Amalgam
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Writing to the standard streams without Foundation.
enum Terminal {
    /// Prints a line (newline added if missing) to standard output.
    static func out(_ text: String) { writeAll(1, text.hasSuffix("\n") ? text : text + "\n") }

    /// Prints a line to standard error.
    static func err(_ text: String) { writeAll(2, text.hasSuffix("\n") ? text : text + "\n") }

    /// Writes raw text to a descriptor (unbuffered, so stdout and stderr interleave in order).
    static func writeAll(_ descriptor: Int32, _ text: String) {
        // A closed or full stream loses the text; there is nowhere left to say so.
        Array(text.utf8).withUnsafeBytes { try? FileDescriptor(rawValue: descriptor).writeAll($0) }
    }

    static var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// Seconds since an arbitrary point (monotonic).
    static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
