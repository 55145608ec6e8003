import Testing

#if canImport(Glibc)
    import Glibc
#endif

public struct ReferencePythonMissing: Error, CustomStringConvertible {
    public var description: String { "the reference Python environment .build/pyref is missing: run make test" }
}
