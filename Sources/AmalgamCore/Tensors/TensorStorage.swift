/// Where a tensor's bytes come from. Loading is lazy: a memory-mapped slice costs nothing
/// until touched, and a deferred computation (a dtype conversion, a merge) runs only when a
/// writer asks for the bytes, one tensor at a time.
public struct TensorStorage: Sendable {
    enum Backing: Sendable {
        case region(ByteRegion)
        case verified(ByteRegion, @Sendable () throws -> Void)
        case deferred(@Sendable () throws -> ByteRegion)
        /// Column-major bytes of an array of `dimensions` with `width`-byte elements.
        case columnMajor(ByteRegion, dimensions: [Int], width: Int)
        /// Bytes produced a range of rows at a time by the reader `open` returns.
        case rows(count: Int, open: @Sendable () throws -> RowReader)
    }

    let backing: Backing

    /// Bytes already at hand: a mapped file slice or an owned buffer.
    public static func region(_ region: ByteRegion) -> TensorStorage { TensorStorage(backing: .region(region)) }

    /// Bytes already at hand that `check` validates each time they are loaded (a CRC over
    /// a mapped zip member, say): still zero-copy.
    public static func verified(_ region: ByteRegion, check: @escaping @Sendable () throws -> Void) -> TensorStorage {
        TensorStorage(backing: .verified(region, check))
    }

    /// Bytes produced on demand by `producer` (called once per `load()`; not cached, so that
    /// streaming writers hold one tensor at a time).
    public static func deferred(_ producer: @escaping @Sendable () throws -> ByteRegion) -> TensorStorage {
        TensorStorage(backing: .deferred(producer))
    }

    /// Bytes computed a range of rows at a time (a dtype conversion, a decode): `open` is called
    /// once per pass over the tensor and returns the reader of its `rowCount` rows. `load()`
    /// reads every row at once; streaming writers read blocks of rows (`Tensor.forEachRowBlock`),
    /// so a conversion holds one block, not one tensor.
    public static func rows(_ rowCount: Int, open: @escaping @Sendable () throws -> RowReader) -> TensorStorage {
        TensorStorage(backing: .rows(count: rowCount, open: open))
    }

    /// Column-major bytes exposed zero-copy; `load()` reorders them (allocating), while
    /// `loadView()` hands them out as they are.
    public static func columnMajor(_ region: ByteRegion, dimensions: [Int], width: Int) -> TensorStorage {
        TensorStorage(backing: .columnMajor(region, dimensions: dimensions, width: width))
    }

    /// The order `loadView()` hands the bytes out in, known without loading them.
    public var storedOrder: StorageOrder {
        if case .columnMajor = backing { return .columnMajor }
        return .rowMajor
    }

    /// The bytes in whatever order they are stored, without copying where possible.
    public func loadView() throws -> (bytes: ByteRegion, order: StorageOrder) {
        if case .columnMajor(let region, _, _) = backing { return (region, .columnMajor) }
        return (try load(), .rowMajor)
    }

    /// The tensor's bytes in row-major order.
    public func load() throws -> ByteRegion {
        switch backing {
        case .region(let region): return region
        case .verified(let region, let check):
            do { try check() } catch {
                // A check that failed on zeros read from a truncated file: say that instead.
                try (region.owner as? MappedFile)?.checkIntact()
                throw error
            }
            return region
        case .deferred(let producer):
            // A computation reads inputs that are not in view here: check them all.
            let bytes = try producer()
            try MappedFile.checkAllIntact()
            return bytes
        case .columnMajor(let region, let dimensions, let width):
            return ElementLayout.columnMajorToRowMajor(region, shape: dimensions, width: width)
        case .rows(let count, let open):
            let bytes = try open().rows(0..<count)
            try MappedFile.checkAllIntact()
            return bytes
        }
    }

    /// A reader of the bytes by ranges of `rowCount` equal rows, for one pass: zero-copy slices
    /// of bytes at hand (a `verified` check runs once, here), the computing reader of `rows`
    /// storage, or slices of the whole tensor loaded once for the other kinds.
    public func rowReader(rowCount: Int) throws -> RowReader {
        switch backing {
        case .rows(let count, let open):
            guard count == rowCount else {
                throw AmalgamError(.internal, "storage computes \(count) rows, the shape has \(rowCount)")
            }
            return try open()
        case .region, .verified, .deferred, .columnMajor:
            return RowReader(slicing: try load(), rowCount: rowCount)
        }
    }

    /// True when the bytes are a zero-copy slice of a memory-mapped input.
    public var isMemoryMapped: Bool { mappedFile != nil }
}

extension TensorStorage {
    /// The memory-mapped file the bytes come from, if any.
    /// The mapped bytes behind this storage, without running any check or conversion (nil
    /// for computed storage). For page management, not for reading values.
    public var mappedRegion: ByteRegion? {
        switch backing {
        case .region(let region), .verified(let region, _), .columnMajor(let region, _, _):
            region.isMemoryMapped ? region : nil
        case .deferred, .rows: nil
        }
    }

    public var mappedFile: MappedFile? {
        switch backing {
        case .region(let region), .verified(let region, _), .columnMajor(let region, _, _): region.owner as? MappedFile
        case .deferred, .rows: nil
        }
    }
}

extension TensorStorage {
    /// The same storage, with errors raised while loading attributed to `file` (the input
    /// the bytes come from) unless they already name a file.
    public func attributingErrors(to file: String) -> TensorStorage {
        switch backing {
        case .region, .columnMajor:
            return self
        case .verified(let region, let check):
            return .verified(region) { try AmalgamError.withContext(file: file) { try check() } }
        case .deferred(let producer):
            return .deferred { try AmalgamError.withContext(file: file) { try producer() } }
        case .rows(let count, let open):
            return .rows(count) {
                let reader = try AmalgamError.withContext(file: file) { try open() }
                return RowReader(rowCount: count) { range in
                    try AmalgamError.withContext(file: file) { try reader.rows(range) }
                }
            }
        }
    }
}

/// Reads one tensor's bytes a range of rows at a time (a row: the innermost dimension; every
/// row has the same byte size), in one pass. Not shared between threads.
public struct RowReader {
    public let rowCount: Int
    private let read: (Range<Int>) throws -> ByteRegion

    /// A reader whose `rows(_:)` calls `read` (with ranges inside `0..<rowCount`).
    public init(rowCount: Int, read: @escaping (Range<Int>) throws -> ByteRegion) {
        self.rowCount = rowCount
        self.read = read
    }

    /// Zero-copy slices of `bytes`, `bytes.count / rowCount` bytes a row.
    public init(slicing bytes: ByteRegion, rowCount: Int) {
        let rowBytes = rowCount > 0 ? bytes.count / rowCount : 0
        self.init(rowCount: rowCount) { range in
            bytes.slice(offset: range.lowerBound * rowBytes, count: range.count * rowBytes)
        }
    }

    /// The bytes of rows `range`. - Precondition: `range` lies inside `0..<rowCount`.
    public func rows(_ range: Range<Int>) throws -> ByteRegion {
        precondition(range.lowerBound >= 0 && range.upperBound <= rowCount, "rows out of range")
        return try read(range)
    }
}
