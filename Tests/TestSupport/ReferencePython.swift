import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The Python of the reference environment that `make test` creates in `.build/pyref`.
public enum ReferencePython {
    public static let executable: String? = {
        var root = #filePath
        for _ in 0..<3 { root = String(root[..<root.lastIndex(of: "/")!]) }
        let path = root + "/.build/pyref/bin/python"
        return access(path, X_OK) == 0 ? path : nil
    }()

    /// Runs `script` with `arguments` (as sys.argv[1:]); returns the exit status and stdout.
    public static func run(_ script: String, _ arguments: [String] = []) throws -> (status: Int32, output: String) {
        guard let executable else { throw ReferencePythonMissing() }
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else { throw ReferencePythonMissing() }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
        posix_spawn_file_actions_addclose(&actions, pipe[0])
        let argv = [executable, "-c", script] + arguments
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, &cArguments, environ)
        posix_spawn_file_actions_destroy(&actions)
        close(pipe[1])
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(pipe[0], &buffer, buffer.count)
            if count <= 0 { break }
            output += buffer.prefix(count)
        }
        close(pipe[0])
        guard spawned == 0 else { throw ReferencePythonMissing() }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return ((status >> 8) & 0xFF, String(decoding: output, as: UTF8.self))
    }
}
