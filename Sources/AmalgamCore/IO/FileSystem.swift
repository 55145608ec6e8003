/// Small file-system queries shared by plugins and tools.
public enum FileSystem {
    /// Names in `folder` (without `.` and `..`), sorted; empty when it cannot be read.
    public static func list(_ folder: String) -> [String] {
        (try? SystemCall.listDirectory(folder)) ?? []
    }

    /// The folder part of `path`: `.` when it has none, `/` for paths directly under the root.
    public static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The last component of `path` (the whole path when it has no `/`).
    public static func baseName(of path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    /// `name` inside `folder` (one `/` between them, whatever `folder` ends with).
    public static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }

    /// True when `path` is an existing folder.
    public static func isFolder(_ path: String) -> Bool {
        (try? SystemCall.status(of: path))??.kind == .directory
    }

    /// True when something exists at `path`.
    public static func exists(_ path: String) -> Bool { FileIdentity.of(path: path) != nil }

    /// Creates `path` and its missing parents (like `mkdir -p`); returns the folders it
    /// created, outermost first.
    @discardableResult
    public static func createFolder(_ path: String) throws(AmalgamError) -> [String] {
        var missing: [String] = []
        var current = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        while !current.isEmpty, current != "/", current != ".", !exists(current) {
            missing.append(current)
            current = folder(of: current)
        }
        var created: [String] = []
        for folder in missing.reversed() {
            do {
                try SystemCall.makeDirectory(folder)
                created.append(folder)
            } catch {
                // Another process may have made it meanwhile.
                if error != .fileExists { throw AmalgamError("cannot create the folder", file: folder, errno: error) }
            }
        }
        return created
    }

    /// The size of the file at `path`.
    public static func size(of path: String) throws(AmalgamError) -> Int {
        do {
            guard let status = try SystemCall.status(of: path) else {
                throw AmalgamError(.notFound, "no such file or folder", file: path)
            }
            return status.size
        } catch let error as Errno {
            throw AmalgamError("cannot stat", file: path, errno: error)
        } catch let error as AmalgamError {
            throw error
        } catch {
            throw AmalgamError(.internal, "\(error)", file: path)
        }
    }
}
