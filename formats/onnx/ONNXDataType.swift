import AmalgamCore

/// ONNX `TensorProto.DataType` codes and how Amalgam stores each.
enum ONNXDataType {
    static let float: Int32 = 1, uint8: Int32 = 2, int8: Int32 = 3, uint16: Int32 = 4, int16: Int32 = 5
    static let int32: Int32 = 6, int64: Int32 = 7, string: Int32 = 8, bool: Int32 = 9, float16: Int32 = 10
    static let double: Int32 = 11, uint32: Int32 = 12, uint64: Int32 = 13, complex64: Int32 = 14
    static let complex128: Int32 = 15, bfloat16: Int32 = 16, float8e4m3fn: Int32 = 17, float8e4m3fnuz: Int32 = 18
    static let float8e5m2: Int32 = 19, float8e5m2fnuz: Int32 = 20, uint4: Int32 = 21, int4: Int32 = 22,
        float4e2m1: Int32 = 23

    static let names: [Int32: String] = [
        1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64", 8: "STRING", 9: "BOOL",
        10: "FLOAT16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16",
        17: "FLOAT8E4M3FN", 18: "FLOAT8E4M3FNUZ", 19: "FLOAT8E5M2", 20: "FLOAT8E5M2FNUZ", 21: "UINT4", 22: "INT4",
        23: "FLOAT4E2M1",
    ]

    static func name(_ code: Int32) -> String { names[code] ?? "data type \(code)" }

    private static let byCode: [Int32: DType] = [
        1: .f32, 2: .u8, 3: .i8, 4: .u16, 5: .i16, 6: .i32, 7: .i64, 9: .bool, 10: .f16, 11: .f64,
        12: .u32, 13: .u64, 14: .c64, 15: .c128, 16: .bf16, 17: .f8_e4m3, 19: .f8_e5m2,
        // 4-bit integers are unpacked to one byte per element.
        21: .u8, 22: .i8,
    ]

    /// The dtype a tensor of ONNX type `code` is read as, or an `.unsupported` error.
    static func dtype(for code: Int32) throws(AmalgamError) -> DType {
        if let dtype = byCode[code] { return dtype }
        switch code {
        case string: throw AmalgamError(.unsupported, "STRING tensors hold text, not weights, and are not supported")
        case float8e4m3fnuz, float8e5m2fnuz, float4e2m1:
            throw AmalgamError(.unsupported, "\(name(code)) tensors are not supported (no such dtype in Amalgam)")
        default: throw AmalgamError(.invalidFormat, "unknown ONNX data type \(code)")
        }
    }

    static func isFourBit(_ code: Int32) -> Bool { code == uint4 || code == int4 }

    /// The ONNX code that stores `dtype`.
    static func code(for dtype: DType) -> Int32 {
        switch dtype {
        case .f32: float
        case .u8: uint8
        case .i8: int8
        case .u16: uint16
        case .i16: int16
        case .i32: int32
        case .i64: int64
        case .bool: bool
        case .f16: float16
        case .f64: double
        case .u32: uint32
        case .u64: uint64
        case .c64: complex64
        case .c128: complex128
        case .bf16: bfloat16
        case .f8_e4m3: float8e4m3fn
        case .f8_e5m2: float8e5m2
        }
    }

    /// The lowest IR version whose TensorProto may hold `dtype` (bfloat16 came with IR 4,
    /// the float8 types with IR 9).
    static func minimumIRVersion(for dtype: DType) -> Int64 {
        switch dtype {
        case .bf16: 4
        case .f8_e4m3, .f8_e5m2: 9
        default: 3
        }
    }

    /// The lowest IR version that supports default-domain `opset` (onnx's version table).
    static func minimumIRVersion(forOpset opset: Int) -> Int64 {
        switch opset {
        case ...8: 3
        case 9: 4
        case 10: 5
        case 11: 6
        case 12...14: 7
        case 15...18: 8
        case 19...20: 9
        default: 10
        }
    }

    /// The newest default-domain opset an IR version supports (onnx's version table).
    static func opset(forIRVersion version: Int64) -> Int64 {
        switch version {
        case ...3: 8
        case 4: 9
        case 5: 10
        case 6: 11
        case 7: 14
        case 8: 18
        case 9: 20
        default: 22
        }
    }
}
