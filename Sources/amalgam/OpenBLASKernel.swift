import AmalgamCore

#if canImport(Glibc)
    import Glibc
#endif

/// Debian's OpenBLAS does not recognise recent Xeons and falls back to its slowest kernel;
/// the choice is made when the library loads, from `OPENBLAS_CORETYPE`. So `amalgam`
/// detects the CPU and, unless the user set the variable, re-executes itself once with it
/// when OpenBLAS's own choice is weaker (Prescott on an AVX-512 Xeon; Zen on EPYC is fine).
enum OpenBLASKernel {
    /// The OpenBLAS core name that suits this CPU, from `/proc/cpuinfo` flags.
    static func preferredCore() -> String? {
        // The first processor's flags line is within the first 64 KiB.
        guard let text = SystemCall.readSmallFile("/proc/cpuinfo") else { return nil }
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
        if ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    /// How capable an OpenBLAS kernel is: 3 AVX-512, 2 AVX2 (Haswell, Zen), 1 AVX, 0 older.
    static func tier(of core: String) -> Int {
        switch core.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": 3
        case "haswell", "zen", "excavator", "steamroller": 2
        case "sandybridge", "bulldozer", "piledriver": 1
        default: 0
        }
    }

    /// Re-executes the process with `OPENBLAS_CORETYPE` set when the user did not set it
    /// and the kernel OpenBLAS chose (`loadedCore`) is weaker than what this CPU supports.
    /// Returns only when no re-execution happened.
    static func selectFastKernel(loadedCore: String) {
        guard getenv("OPENBLAS_CORETYPE") == nil, getenv("AMALGAM_NO_REEXEC") == nil,
            let core = preferredCore(), tier(of: core) > tier(of: loadedCore)
        else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv("AMALGAM_NO_REEXEC", "1", 1)  // never loop, whatever happens
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv failed: carry on with the kernel already loaded.
    }
}
