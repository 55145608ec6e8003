import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Survives inputs truncated by another process while they are mapped.
///
/// Touching a page of a mapping beyond the end of its (now shorter) file raises `SIGBUS`, which
/// would kill the process. Every mapped input registers its range here; the `SIGBUS` handler,
/// for a fault inside a registered range, maps a page of zeros over the faulting page, records
/// the fault's offset and returns, so the reader finishes the tensor it was on. Readers and
/// writers then call `MappedFile.checkIntact()` after each tensor (and `OutputSet.commit()` checks
/// every live mapping), which turns the recorded fault into an error naming the file: no output
/// made from those zeros is ever committed. A fault outside every range restores the handler
/// that was there before (the Swift runtime's backtracer, or the default) and lets it run.
///
/// The handler only reads plain words and calls `mmap` and `sigaction`: nothing it does
/// allocates, locks or touches reference counts.
enum MappedRangeGuard {
    /// Ranges watched at once; mappings beyond that many are simply unguarded.
    static let capacity = 4096

    /// `capacity` slots of three words: start address, end address (0: free slot), and the
    /// offset of the first fault plus one (0: none). Written under `lock`; read by the handler.
    nonisolated(unsafe) static let slots: UnsafeMutablePointer<Int> = {
        let words = UnsafeMutablePointer<Int>.allocate(capacity: 3 * capacity)
        words.initialize(repeating: 0, count: 3 * capacity)
        return words
    }()
    nonisolated(unsafe) static let pageMask = ~(Int(sysconf(Int32(_SC_PAGESIZE))) - 1)
    nonisolated(unsafe) static let previousAction = UnsafeMutablePointer<sigaction>.allocate(capacity: 1)

    /// Whether the handler is installed, and which slots are free for the next register.
    private static let lock = Mutex<(installed: Bool, used: [Bool])>((false, []))

    /// Starts watching `count` bytes at `start`; returns the slot (nil when every slot is taken).
    static func register(start: UnsafeRawPointer, count: Int) -> Int? {
        lock.withLock { state -> Int? in
            if !state.installed {
                _ = slots
                _ = pageMask
                install()
                state = (true, [Bool](repeating: false, count: capacity))
            }
            guard let slot = state.used.firstIndex(of: false) else { return nil }
            state.used[slot] = true
            slots[3 * slot + 2] = 0
            slots[3 * slot] = Int(bitPattern: start)
            slots[3 * slot + 1] = Int(bitPattern: start) + count
            return slot
        }
    }

    /// Stops watching `slot` (before its range is unmapped).
    static func unregister(_ slot: Int) {
        lock.withLock { state in
            slots[3 * slot + 1] = 0
            slots[3 * slot] = 0
            state.used[slot] = false
        }
    }

    /// The offset of the first fault recorded in `slot`'s range, if any.
    static func faultOffset(_ slot: Int) -> Int? {
        let recorded = slots[3 * slot + 2]
        return recorded == 0 ? nil : recorded - 1
    }

    private static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = handleBusError
        action.sa_flags = SA_SIGINFO | SA_ONSTACK
        sigemptyset(&action.sa_mask)
        sigaction(SIGBUS, &action, previousAction)
    }
}

/// The `SIGBUS` handler (see `MappedRangeGuard`).
private func handleBusError(
    _ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _ context: UnsafeMutableRawPointer?
) {
    let address = info.map { Int(bitPattern: $0.pointee._sifields._sigfault.si_addr) } ?? 0
    let slots = MappedRangeGuard.slots
    for slot in 0..<MappedRangeGuard.capacity {
        let start = slots[3 * slot]
        let end = slots[3 * slot + 1]
        guard address >= start, address < end else { continue }
        let page = address & MappedRangeGuard.pageMask
        let zeros = mmap(
            UnsafeMutableRawPointer(bitPattern: page), -MappedRangeGuard.pageMask, PROT_READ,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
        guard zeros != MAP_FAILED else { break }
        if slots[3 * slot + 2] == 0 { slots[3 * slot + 2] = address - start + 1 }
        return
    }
    // Not ours: the previous handler (or the default action) takes the fault when it recurs.
    sigaction(SIGBUS, MappedRangeGuard.previousAction, nil)
}
