import AmalgamCore

/// npz keys and the canonical names they map to.
enum NPZKeys {
    /// Checks that `key` is a name and not a path: no NUL or backslash, no leading `/`, and
    /// no empty, `.` or `..` component. `/` separators are allowed (JAX/Flax flatten their
    /// trees that way) because keys are never used as file-system paths.
    static func validate(_ key: String) throws(AmalgamError) {
        guard !key.isEmpty else { throw AmalgamError(.invalidFormat, "empty array name") }
        guard !key.contains("\0"), !key.contains("\\") else {
            throw AmalgamError(.invalidFormat, "array name '\(key.replacingNUL)' contains a NUL or backslash")
        }
        let components = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.hasPrefix("/"), !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw AmalgamError(
                .invalidFormat, "array name '\(key)' is a path (absolute, '..', '.' or an empty component), not a name")
        }
    }

    /// A key `validate` accepts for a name it refuses: leading and doubled `/` dropped, `.`
    /// and `..` components and NUL or backslash characters replaced by `_`.
    static func safeKey(for name: String) -> String {
        let cleaned = String(name.map { $0 == "\0" || $0 == "\\" ? "_" : $0 })
        let parts = cleaned.split(separator: "/").map { $0 == "." || $0 == ".." ? "_" : String($0) }
        return parts.isEmpty ? "_" : parts.joined(separator: "/")
    }

    /// The canonical name of a key, and whether its array must be transposed: `a/b/c` becomes
    /// `a.b.c`; Flax trees lose their leading `params` and follow Hugging Face's Flax-to-PyTorch
    /// renaming (2-D `kernel` -> transposed `weight`, `scale` and `embedding` -> `weight`).
    static func canonical(_ key: String, rank: Int) -> (name: String, transpose: Bool) {
        guard key.contains("/") else { return (key, false) }
        var components = key.split(separator: "/").map(String.init)
        if components.count > 1 && components[0] == "params" { components.removeFirst() }
        var transpose = false
        switch components.last {
        case "kernel" where rank == 2:
            components[components.count - 1] = "weight"
            transpose = true
        case "scale", "embedding":
            components[components.count - 1] = "weight"
        default:
            break
        }
        return (components.joined(separator: "."), transpose)
    }

    /// The key to write a tensor under, and whether to transpose it back: a tensor read from
    /// an npz keeps its original key (and layout); any other tensor is keyed by its name.
    static func key(for tensor: Tensor, graph: ModelGraph) -> (key: String, transpose: Bool) {
        guard graph.sourceFormat == "npz", tensor.originalName.contains("/") else { return (tensor.name, false) }
        let (name, transpose) = canonical(tensor.originalName, rank: tensor.shape.rank)
        guard name == tensor.name else { return (tensor.name, false) }
        return (tensor.originalName, transpose)
    }
}
