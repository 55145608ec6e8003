// swift-format-ignore-file: AlwaysUseLowerCamelCase
// (cases carry ggml's type names (Q4_K, IQ2_XXS) as gguf-py spells them.)

import AmalgamCore

/// ggml's tensor types, by the u32 code GGUF stores in each tensor info.
///
/// Sizes are from ggml (`GGML_QUANT_SIZES`); codes 4, 5, 31-33 and 36-38 are retired and
/// rejected. Plain types map to core dtypes; block-quantised ones to a `QuantizedCodec`.
public enum GGMLType: UInt32, CaseIterable, Sendable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case iq2_XXS = 16
    case iq2_XS = 17
    case iq3_XXS = 18
    case iq1_S = 19
    case iq4_NL = 20
    case iq3_S = 21
    case iq2_S = 22
    case iq4_XS = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case iq1_M = 29
    case bf16 = 30
    case tq1_0 = 34
    case tq2_0 = 35
    case mxfp4 = 39
    case nvfp4 = 40
    case q1_0 = 41

    /// True for ggml's integer types (I8, I16, I32, I64).
    public var isInteger: Bool { [.i8, .i16, .i32, .i64].contains(self) }

    /// The name ggml and gguf-py use (`Q4_K`, `IQ4_NL`, `BF16`).
    public var name: String {
        String(describing: self).uppercased()
    }

    /// Elements per block and bytes per block.
    public var blockLayout: (elements: Int, bytes: Int) {
        switch self {
        case .f32: (1, 4)
        case .f16, .bf16: (1, 2)
        case .f64: (1, 8)
        case .i8: (1, 1)
        case .i16: (1, 2)
        case .i32: (1, 4)
        case .i64: (1, 8)
        case .q4_0: (32, 18)
        case .q4_1: (32, 20)
        case .q5_0: (32, 22)
        case .q5_1: (32, 24)
        case .q8_0: (32, 34)
        case .q8_1: (32, 36)
        case .q2_K: (256, 84)
        case .q3_K: (256, 110)
        case .q4_K: (256, 144)
        case .q5_K: (256, 176)
        case .q6_K: (256, 210)
        case .q8_K: (256, 292)
        case .iq2_XXS: (256, 66)
        case .iq2_XS: (256, 74)
        case .iq3_XXS: (256, 98)
        case .iq1_S: (256, 50)
        case .iq4_NL: (32, 18)
        case .iq3_S: (256, 110)
        case .iq2_S: (256, 82)
        case .iq4_XS: (256, 136)
        case .iq1_M: (256, 56)
        case .tq1_0: (256, 54)
        case .tq2_0: (256, 66)
        case .mxfp4: (32, 17)
        case .nvfp4: (64, 36)
        case .q1_0: (128, 18)
        }
    }

    /// The core dtype of a plain (one element per block) type.
    public var plainDType: DType? {
        switch self {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        case .f64: .f64
        case .i8: .i8
        case .i16: .i16
        case .i32: .i32
        case .i64: .i64
        default: nil
        }
    }

    /// The ggml type storing a plain dtype, if any (GGUF has no unsigned or float8 types).
    public init?(plain dtype: DType) {
        guard let match = GGMLType.allCases.first(where: { $0.plainDType == dtype }) else { return nil }
        self = match
    }

    /// The type called `name` (case-insensitive: `q4_k`, `Q4_K`).
    public init?(name: String) {
        guard let match = GGMLType.allCases.first(where: { $0.name == name.uppercased() }) else { return nil }
        self = match
    }

    /// The core encoding of tensors of this type.
    public var encoding: TensorEncoding {
        if let dtype = plainDType { return .plain(dtype) }
        return .quantized(QuantizedEncoding(GGMLCodecs.codec(for: self)))
    }

    /// The type of a core encoding, or nil when GGUF cannot store it as is.
    public init?(_ encoding: TensorEncoding) {
        switch encoding {
        case .plain(let dtype): self.init(plain: dtype)
        case .quantized(let quantized): self.init(name: quantized.codec.name)
        }
    }
}
