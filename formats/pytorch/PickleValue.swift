import AmalgamCore

/// A value on the stack of `PickleMachine`: only what a PyTorch state_dict pickle holds.
/// Lists and dicts are references (a memoised list that is appended to later is the same list).
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case set([PickleValue])
    /// An allow-listed global (`torch._utils._rebuild_tensor_v2`, `torch.FloatStorage`...).
    case global(TorchGlobal)
    /// A storage the archive holds (from a persistent id).
    case storage(TorchStorage)
    case tensor(TorchTensor)

    /// The Python type name, for messages.
    var typeName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .set: "set"
        case .global(let global): global.name
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }

    var intValue: Int64? {
        switch self {
        case .int(let value): value
        case .bool(let value): value ? 1 : 0
        default: nil
        }
    }

    /// The items of a tuple or list.
    var sequence: [PickleValue]? {
        switch self {
        case .tuple(let items): items
        case .list(let list): list.items
        default: nil
        }
    }
}

final class PickleList {
    var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
}

final class PickleDict {
    var entries: [(key: PickleValue, value: PickleValue)] = []
    /// Attributes set by BUILD (a state_dict's `_metadata`): kept, never run.
    var attributes: [(key: PickleValue, value: PickleValue)] = []
}

/// One storage of a torch.save archive: the bytes of `data/KEY`, read as `dtype`.
struct TorchStorage {
    let key: String
    /// nil for an untyped storage (the dtype then comes with the tensor).
    let dtype: DType?
    let region: ByteRegion
    /// The member's element count as the persistent id states it (bytes for untyped).
    let declaredCount: Int
    /// False while a legacy file's object is first read, before its storages are located
    /// (views are checked against them on the second reading).
    var isLocated = true
}

/// A tensor as torch's `_rebuild_tensor` describes it: a strided view into a storage.
struct TorchTensor {
    let storage: TorchStorage
    let dtype: DType
    let offset: Int
    let size: [Int]
    let stride: [Int]
}
