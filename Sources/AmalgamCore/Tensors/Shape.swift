/// A tensor shape in row-major (PyTorch) order: a linear weight is `[out, in]`.
///
/// Construction checks that the element count fits in `Int`; `byteCount(elementBytes:)`
/// checks the byte size too, so a malicious header can never make Amalgam compute a wrapped
/// size. Rank 0 (a scalar, one element) and zero-sized dimensions are legal.
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public let dimensions: [Int]
    /// The product of the dimensions (1 for rank 0).
    public let elementCount: Int

    /// Creates a shape from untrusted dimensions, throwing `.overflow` when the product does
    /// not fit in a signed 64-bit integer.
    public init(checking dimensions: [UInt64]) throws(AmalgamError) {
        var dims: [Int] = []
        dims.reserveCapacity(dimensions.count)
        for dimension in dimensions {
            guard dimension <= UInt64(Int.max) else {
                throw AmalgamError(.overflow, "dimension \(dimension) of shape \(dimensions) is too large")
            }
            dims.append(Int(dimension))
        }
        // A zero dimension makes the product 0 whatever the others are, but the product of
        // the non-zero ones must still fit (numpy and torch refuse the same shapes).
        var nonzero = 1
        for dimension in dims where dimension != 0 {
            let (product, overflow) = nonzero.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw AmalgamError(.overflow, "element count of shape \(dimensions) overflows")
            }
            nonzero = product
        }
        self.dimensions = dims
        self.elementCount = dims.contains(0) ? 0 : nonzero
    }

    /// Creates a shape from trusted dimensions; traps on overflow or negative values.
    public init(_ dimensions: [Int]) {
        precondition(dimensions.allSatisfy { $0 >= 0 }, "negative dimension in \(dimensions)")
        self.dimensions = dimensions
        self.elementCount = dimensions.reduce(1) { $0 * $1 }
    }

    public init(arrayLiteral elements: Int...) { self.init(elements) }

    public var rank: Int { dimensions.count }

    /// Bytes needed for `elementCount` elements of `elementBytes` each; throws on overflow.
    public func byteCount(elementBytes: Int) throws(AmalgamError) -> Int {
        let (bytes, overflow) = elementCount.multipliedReportingOverflow(by: elementBytes)
        guard !overflow else {
            throw AmalgamError(.overflow, "byte size of shape \(dimensions) overflows")
        }
        return bytes
    }

    public var description: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }
}
