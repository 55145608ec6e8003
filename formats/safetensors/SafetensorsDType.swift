import AmalgamCore

/// safetensors dtype names and the order the reference writer sorts by.
enum SafetensorsDType {
    /// The name in the header for each supported dtype.
    static func name(of dtype: DType) -> String {
        switch dtype {
        case .bool: "BOOL"
        case .u8: "U8"
        case .i8: "I8"
        case .u16: "U16"
        case .i16: "I16"
        case .u32: "U32"
        case .i32: "I32"
        case .u64: "U64"
        case .i64: "I64"
        case .f16: "F16"
        case .bf16: "BF16"
        case .f32: "F32"
        case .f64: "F64"
        case .f8_e4m3: "F8_E4M3"
        case .f8_e5m2: "F8_E5M2"
        case .c64: "C64"
        case .c128: "C128"  // not a safetensors dtype: the writer refuses it first
        }
    }

    private static let byName: [String: DType] = Dictionary(
        uniqueKeysWithValues: DType.allCases.filter { $0 != .c128 }.map { (name(of: $0), $0) })

    /// Dtypes the format defines that Amalgam recognises but cannot represent.
    static let unsupportedNames: Set<String> = ["F8_E8M0", "F4", "F6_E2M3", "F6_E3M2"]

    static func dtype(named name: String) -> DType? { byName[name] }

    /// The reference (Rust `Dtype` declaration order); its writer puts higher ranks first,
    /// which also puts wider, more aligned types first.
    static func rank(of dtype: DType) -> Int {
        switch dtype {
        case .bool: 0
        case .u8: 1
        case .i8: 2
        case .f8_e5m2: 3
        case .f8_e4m3: 4
        case .i16: 5
        case .u16: 6
        case .f16: 7
        case .bf16: 8
        case .i32: 9
        case .u32: 10
        case .f32: 11
        case .c64: 12
        case .f64: 13
        case .i64: 14
        case .u64: 15
        case .c128: 16
        }
    }
}
