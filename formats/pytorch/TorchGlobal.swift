import AmalgamCore

/// The globals a state_dict pickle may name, as `torch.load(weights_only=True)` allows them.
/// Any other global is refused where the pickle names it, before anything could call it.
enum TorchGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case rebuildTensorV3
    case rebuildParameter
    case rebuildParameterWithState
    /// `torch.FloatStorage`... (nil dtype: `torch.storage.UntypedStorage`).
    case storageType(DType?)
    /// `torch.float32`... (the dtype of an untyped storage's tensor).
    case dtype(DType)
    case size
    case set
    /// `_codecs.encode`: how protocol 2 spells a bytes object.
    case codecsEncode

    static let storageTypes: [String: DType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8, "ByteStorage": .u8,
        "BoolStorage": .bool, "ComplexFloatStorage": .c64, "ComplexDoubleStorage": .c128,
    ]

    static let dtypes: [String: DType] = [
        "float32": .f32, "float": .f32, "float64": .f64, "double": .f64, "float16": .f16, "half": .f16,
        "bfloat16": .bf16, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32, "int16": .i16, "short": .i16,
        "int8": .i8, "uint8": .u8, "uint16": .u16, "uint32": .u32, "uint64": .u64, "bool": .bool,
        "complex64": .c64, "cfloat": .c64, "complex128": .c128, "cdouble": .c128, "float8_e4m3fn": .f8_e4m3,
        "float8_e5m2": .f8_e5m2,
    ]

    /// Dtypes torch has that Amalgam's core does not store (refused with their name).
    static let unsupportedDTypes: Set<String> = [
        "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2", "complex32", "chalf", "qint8",
        "quint8", "qint32", "quint4x2", "quint2x4", "bits1x8", "bits2x4", "bits4x2", "bits8", "bits16",
    ]

    /// The allow-listed global `module.name`, or nil.
    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor_v3"): self = .rebuildTensorV3
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): self = .rebuildParameterWithState
        case ("torch.storage", "UntypedStorage"), ("torch", "UntypedStorage"): self = .storageType(nil)
        case ("torch", "Size"): self = .size
        case ("builtins", "set"), ("__builtin__", "set"): self = .set
        case ("_codecs", "encode"): self = .codecsEncode
        case ("torch", _):
            if let dtype = Self.storageTypes[name] {
                self = .storageType(dtype)
            } else if let dtype = Self.dtypes[name] {
                self = .dtype(dtype)
            } else {
                return nil
            }
        default: return nil
        }
    }

    var name: String {
        switch self {
        case .orderedDict: "collections.OrderedDict"
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildTensorV3: "torch._utils._rebuild_tensor_v3"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: "torch._utils._rebuild_parameter_with_state"
        case .storageType(let dtype): dtype.map { "torch storage of \($0.rawValue)" } ?? "torch.storage.UntypedStorage"
        case .dtype(let dtype): "torch dtype \(dtype.rawValue)"
        case .size: "torch.Size"
        case .set: "builtins.set"
        case .codecsEncode: "_codecs.encode"
        }
    }
}
