import Amalgam

#if canImport(Glibc)
    import Glibc
#endif

/// Small file-system helpers for the CLI.
enum Folder {
    /// Creates `path` and its parents (like `mkdir -p`).
    static func create(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw AmalgamError(.io, "cannot create folder", file: current, cause: String(cString: strerror(errno)))
            }
        }
    }

    /// Total size of the files at `paths`.
    static func size(of paths: [String]) throws -> Int {
        try paths.reduce(0) { total, path in
            var info = stat()
            guard stat(path, &info) == 0 else { throw AmalgamError(.io, "cannot stat", file: path) }
            return total + Int(info.st_size)
        }
    }
}
