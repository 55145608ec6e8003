// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (the float8 cases carry the names of the OCP and safetensors specs.)

/// The element types Amalgam stores and converts. Values are little-endian in memory.
///
/// Float8 variants follow the OCP definitions: `f8_e4m3` is E4M3FN (bias 7, no infinities,
/// NaN is S.1111.111, largest finite 448) and `f8_e5m2` is IEEE-like (bias 15, with
/// infinities and NaNs). `c64`/`c128` are complex numbers (two f32/f64, real first): they
/// can be read, stored and copied, but have no real value to decode.
public enum DType: String, CaseIterable, Sendable, Hashable, Comparable {
    case bool, u8, i8, u16, i16, u32, i32, u64, i64
    case f16, bf16, f32, f64
    case f8_e4m3, f8_e5m2
    case c64, c128

    /// Bytes per element.
    @inlinable
    public var byteWidth: Int {
        switch self {
        case .bool, .u8, .i8, .f8_e4m3, .f8_e5m2: 1
        case .u16, .i16, .f16, .bf16: 2
        case .u32, .i32, .f32: 4
        case .u64, .i64, .f64, .c64: 8
        case .c128: 16
        }
    }

    /// True for the floating-point types (the ones `--dtype` converts).
    @inlinable
    public var isFloatingPoint: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64, .f8_e4m3, .f8_e5m2: true
        default: false
        }
    }

    /// True for the complex types.
    @inlinable
    public var isComplex: Bool { self == .c64 || self == .c128 }

    /// True for bool and the integer types.
    @inlinable
    public var isInteger: Bool { !isFloatingPoint && !isComplex }

    /// The values an integer type holds, as a closed range of Int128 (bool: 0...1); nil for
    /// other types.
    public var integerRange: ClosedRange<Int128>? {
        switch self {
        case .bool: 0...1
        case .u8: 0...Int128(UInt8.max)
        case .i8: Int128(Int8.min)...Int128(Int8.max)
        case .u16: 0...Int128(UInt16.max)
        case .i16: Int128(Int16.min)...Int128(Int16.max)
        case .u32: 0...Int128(UInt32.max)
        case .i32: Int128(Int32.min)...Int128(Int32.max)
        case .u64: 0...Int128(UInt64.max)
        case .i64: Int128(Int64.min)...Int128(Int64.max)
        default: nil
        }
    }

    /// True when every value of integer type `other` is a value of this one (a widening).
    public func holdsEveryValue(of other: DType) -> Bool {
        guard let mine = integerRange, let theirs = other.integerRange else { return false }
        return mine.lowerBound <= theirs.lowerBound && theirs.upperBound <= mine.upperBound
    }

    /// Parses the names used on the command line and in JSON (`f32`, `bf16`, `f8_e4m3`...),
    /// also accepting common aliases (`float32`, `half`, `bfloat16`, `fp16`).
    public init?(name: String) {
        let lowered = name.lowercased()
        if let exact = DType(rawValue: lowered) {
            self = exact
            return
        }
        switch lowered {
        case "float32", "fp32", "float": self = .f32
        case "float16", "fp16", "half": self = .f16
        case "bfloat16": self = .bf16
        case "float64", "fp64", "double": self = .f64
        case "f8_e4m3fn", "float8_e4m3fn": self = .f8_e4m3
        case "float8_e5m2": self = .f8_e5m2
        case "int8": self = .i8
        case "uint8": self = .u8
        case "int16": self = .i16
        case "uint16": self = .u16
        case "int32": self = .i32
        case "uint32": self = .u32
        case "int64": self = .i64
        case "uint64": self = .u64
        case "complex64": self = .c64
        case "complex128": self = .c128
        default: return nil
        }
    }

    /// Order by declaration: a stable order for histograms and reports.
    public static func < (lhs: DType, rhs: DType) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
