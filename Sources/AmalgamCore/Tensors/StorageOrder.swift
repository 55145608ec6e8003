/// The order elements are stored in: row-major (C, the convention everywhere in Amalgam)
/// or column-major (Fortran, as some `.npy` files hold them).
public enum StorageOrder: Sendable, Hashable {
    case rowMajor
    case columnMajor
}
