import AmalgamCore

/// Turns the bytes of a stored array into Amalgam's row-major little-endian layout:
/// byte-swapping big-endian data, reordering Fortran (column-major) data, and transposing
/// Flax `[in, out]` kernels to `[out, in]`. Zero-copy when nothing needs changing.
enum ArrayLayout {
    /// Storage for an array whose stored bytes come from `load` (a mapped slice, a verified
    /// mapped slice or an inflated buffer). `shape` is the stored shape. When `load` is a
    /// plain mapped slice (`zeroCopy`), Fortran-order little-endian data stays zero-copy as
    /// column-major storage.
    static func storage(
        dtype: DType, shape: Shape, bigEndian: Bool, fortranOrder: Bool, transpose2D: Bool,
        load: TensorStorage, zeroCopy: ByteRegion? = nil
    ) -> TensorStorage {
        let fortran = fortranOrder && shape.rank > 1
        guard bigEndian || fortran || transpose2D else { return load }
        if fortran && !bigEndian && !transpose2D, let zeroCopy {
            return .columnMajor(zeroCopy, dimensions: shape.dimensions, width: dtype.byteWidth)
        }
        return .deferred {
            var region = try load.load()
            if bigEndian {
                region = byteSwapped(region, width: dtype.isComplex ? dtype.byteWidth / 2 : dtype.byteWidth)
            }
            if fortran {
                region = ElementLayout.columnMajorToRowMajor(region, shape: shape.dimensions, width: dtype.byteWidth)
            }
            if transpose2D {
                region = ElementLayout.transposed(
                    region, rows: shape.dimensions[0], columns: shape.dimensions[1], width: dtype.byteWidth)
            }
            return region
        }
    }

    /// Reverses the bytes of every `width`-byte element.
    static func byteSwapped(_ region: ByteRegion, width: Int) -> ByteRegion {
        let output = OwnedBuffer(byteCount: region.count)
        region.withUnsafeBytes { source in
            let target = output.pointer
            for element in stride(from: 0, to: source.count, by: width) {
                for byte in 0..<width {
                    target.storeBytes(
                        of: source[element + width - 1 - byte], toByteOffset: element + byte, as: UInt8.self)
                }
            }
        }
        return output.region
    }
}

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

extension String {
    var replacingNUL: String { String(map { $0 == "\0" ? "␀" : $0 }) }
}
