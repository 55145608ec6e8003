import AmalgamCore

/// A pickle virtual machine for PyTorch state_dicts that never executes anything: it knows
/// the binary opcodes of protocols 2 to 5 that a state_dict uses, builds plain values, and
/// "calls" only the allow-listed globals of `TorchGlobal`, each by a rule written here
/// (`_rebuild_tensor_v2` records a strided view, `OrderedDict()` makes a dict...). Any other
/// global, INST/OBJ/NEWOBJ, extension codes, out-of-band buffers and text opcodes are refused
/// with the opcode and its byte offset. Every allocation is bounded by the input's length.
struct PickleMachine {
    /// Turns a persistent id (a storage's tuple) into the storage, or throws.
    typealias PersistentLoad = (PickleValue) throws(AmalgamError) -> PickleValue

    let bytes: UnsafeRawBufferPointer
    /// Where the pickle starts in the file, so that offsets in messages are the file's.
    let base: Int
    let member: String
    let persistentLoad: PersistentLoad

    /// Bytes read so far (after `run`, the length of the pickle).
    private(set) var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [UInt32: PickleValue] = [:]
    /// Every list and dict made, so that `release` can break the reference cycles a pickle can
    /// build through the memo (a dict put into itself).
    private var containers: [AnyObject] = []
    /// The offset of the opcode being run.
    private var opcodeOffset = 0

    /// Nested MARKs beyond this are refused (no state_dict comes near it).
    static let maximumMarks = 10_000

    init(_ bytes: UnsafeRawBufferPointer, base: Int, member: String, persistentLoad: @escaping PersistentLoad) {
        self.bytes = bytes
        self.base = base
        self.member = member
        self.persistentLoad = persistentLoad
    }

    func fail(_ message: String, _ code: AmalgamError.Code = .invalidFormat) -> AmalgamError {
        AmalgamError(code, "\(member): \(message)", offset: UInt64(base + opcodeOffset))
    }

    // MARK: Reading the stream

    private mutating func take(_ count: Int, _ what: String) throws(AmalgamError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else {
            throw fail("truncated pickle: \(what) needs \(count) bytes, \(bytes.count - position) left")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    private mutating func unsigned(_ width: Int, _ what: String) throws(AmalgamError) -> UInt64 {
        let raw = try take(width, what)
        var value: UInt64 = 0
        for (index, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        return value
    }

    private mutating func line(_ what: String) throws(AmalgamError) -> String {
        // Only the next 257 bytes are searched: a missing newline costs no scan of the whole input.
        let window = bytes[position..<min(bytes.count, position + 257)]
        guard let end = window.firstIndex(of: 0x0A) else {
            throw fail("truncated pickle: \(what) has no newline within 256 bytes")
        }
        let text = try take(end - position + 1, what)
        guard let string = String(validating: text.dropLast(), as: UTF8.self) else {
            throw fail("\(what) is not UTF-8")
        }
        return string
    }

    private mutating func text(_ count: UInt64, _ what: String) throws(AmalgamError) -> String {
        guard count <= UInt64(bytes.count - position) else {
            throw fail("truncated pickle: \(what) of \(count) bytes, \(bytes.count - position) left")
        }
        let raw = try take(Int(count), what)
        guard let string = String(validating: raw, as: UTF8.self) else { throw fail("\(what) is not valid UTF-8") }
        return string
    }

    private mutating func rawBytes(_ count: UInt64, _ what: String) throws(AmalgamError) -> [UInt8] {
        guard count <= UInt64(bytes.count - position) else {
            throw fail("truncated pickle: \(what) of \(count) bytes, \(bytes.count - position) left")
        }
        return Array(try take(Int(count), what))
    }

    // MARK: The stack

    private mutating func pop() throws(AmalgamError) -> PickleValue {
        if let mark = marks.last, stack.count <= mark { throw fail("pops past a MARK") }
        guard let value = stack.popLast() else { throw fail("pops an empty stack") }
        return value
    }

    private mutating func popMark() throws(AmalgamError) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw fail("no MARK to pop to") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func top() throws(AmalgamError) -> PickleValue {
        if let mark = marks.last, stack.count <= mark { throw fail("reads past a MARK") }
        guard let value = stack.last else { throw fail("reads an empty stack") }
        return value
    }

    // MARK: Running

    /// Runs to STOP and returns the pickled object.
    mutating func run() throws(AmalgamError) -> PickleValue {
        while true {
            opcodeOffset = position
            let opcode = try take(1, "an opcode")[0]
            switch opcode {
            case 0x80:  // PROTO
                let version = try take(1, "the protocol")[0]
                guard (2...5).contains(version) else { throw fail("pickle protocol \(version) (2 to 5 are read)") }
            case 0x95: _ = try unsigned(8, "FRAME's length")  // FRAME: only a hint
            case UInt8(ascii: "."):
                let value = try pop()
                guard stack.isEmpty, marks.isEmpty else {
                    throw fail("STOP with \(stack.count) values left on the stack")
                }
                return value
            case UInt8(ascii: "("):
                guard marks.count < Self.maximumMarks else { throw fail("more than \(Self.maximumMarks) nested MARKs") }
                marks.append(stack.count)
            case UInt8(ascii: ")"): stack.append(.tuple([]))
            case UInt8(ascii: "]"): stack.append(.list(made(PickleList())))
            case UInt8(ascii: "}"): stack.append(.dict(made(PickleDict())))
            case 0x8F: stack.append(.set([]))  // EMPTY_SET
            case UInt8(ascii: "t"): stack.append(.tuple(try popMark()))
            case 0x85: stack.append(.tuple([try pop()]))
            case 0x86:
                let second = try pop()
                stack.append(.tuple([try pop(), second]))
            case 0x87:
                let third = try pop()
                let second = try pop()
                stack.append(.tuple([try pop(), second, third]))
            case UInt8(ascii: "l"): stack.append(.list(made(PickleList(try popMark()))))
            case UInt8(ascii: "d"):
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("DICT with an odd number of items") }
                let dict = made(PickleDict())
                for pair in stride(from: 0, to: items.count, by: 2) {
                    dict.entries.append((items[pair], items[pair + 1]))
                }
                stack.append(.dict(dict))
            case UInt8(ascii: "a"):
                let value = try pop()
                guard case .list(let list) = try top() else { throw fail("APPEND to a \(try top().typeName)") }
                list.items.append(value)
            case UInt8(ascii: "e"):
                let items = try popMark()
                guard case .list(let list) = try top() else { throw fail("APPENDS to a \(try top().typeName)") }
                list.items += items
            case UInt8(ascii: "s"):
                let value = try pop()
                let key = try pop()
                guard case .dict(let dict) = try top() else { throw fail("SETITEM on a \(try top().typeName)") }
                dict.entries.append((key, value))
            case UInt8(ascii: "u"):
                let items = try popMark()
                guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
                guard case .dict(let dict) = try top() else { throw fail("SETITEMS on a \(try top().typeName)") }
                for pair in stride(from: 0, to: items.count, by: 2) {
                    dict.entries.append((items[pair], items[pair + 1]))
                }
            case 0x90:  // ADDITEMS
                let items = try popMark()
                guard case .set(let existing) = try pop() else { throw fail("ADDITEMS to a non-set") }
                stack.append(.set(existing + items))
            case 0x91: stack.append(.set(try popMark()))  // FROZENSET
            case UInt8(ascii: "N"): stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case UInt8(ascii: "J"): stack.append(.int(Int64(Int32(truncatingIfNeeded: try unsigned(4, "BININT")))))
            case UInt8(ascii: "K"): stack.append(.int(Int64(try unsigned(1, "BININT1"))))
            case UInt8(ascii: "M"): stack.append(.int(Int64(try unsigned(2, "BININT2"))))
            case 0x8A:  // LONG1: little-endian two's complement of n bytes
                let count = Int(try unsigned(1, "LONG1's length"))
                guard count <= 8 else { throw fail("integer of \(count) bytes (more than 64 bits)", .unsupported) }
                let raw = try take(count, "LONG1")
                var value: UInt64 = 0
                for (index, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
                if count > 0, count < 8, raw[count - 1] & 0x80 != 0 { value |= ~UInt64(0) << (8 * UInt64(count)) }
                stack.append(.int(Int64(bitPattern: value)))
            case UInt8(ascii: "G"):
                let raw = try take(8, "BINFLOAT")
                stack.append(.float(Double(bitPattern: raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
            case UInt8(ascii: "X"): stack.append(.string(try text(try unsigned(4, "BINUNICODE's length"), "a string")))
            case 0x8C: stack.append(.string(try text(try unsigned(1, "SHORT_BINUNICODE's length"), "a string")))
            case 0x8D: stack.append(.string(try text(try unsigned(8, "BINUNICODE8's length"), "a string")))
            case UInt8(ascii: "T"):
                stack.append(.bytes(try rawBytes(try unsigned(4, "BINSTRING's length"), "a string")))
            case UInt8(ascii: "U"):
                stack.append(.bytes(try rawBytes(try unsigned(1, "SHORT_BINSTRING's length"), "a string")))
            case UInt8(ascii: "B"): stack.append(.bytes(try rawBytes(try unsigned(4, "BINBYTES's length"), "bytes")))
            case UInt8(ascii: "C"):
                stack.append(.bytes(try rawBytes(try unsigned(1, "SHORT_BINBYTES's length"), "bytes")))
            case 0x8E: stack.append(.bytes(try rawBytes(try unsigned(8, "BINBYTES8's length"), "bytes")))
            case UInt8(ascii: "q"): memo[UInt32(try unsigned(1, "BINPUT's index"))] = try top()
            case UInt8(ascii: "r"): memo[UInt32(try unsigned(4, "LONG_BINPUT's index"))] = try top()
            case 0x94: memo[UInt32(truncatingIfNeeded: memo.count)] = try top()  // MEMOIZE
            case UInt8(ascii: "h"): stack.append(try recall(UInt32(try unsigned(1, "BINGET's index"))))
            case UInt8(ascii: "j"): stack.append(try recall(UInt32(try unsigned(4, "LONG_BINGET's index"))))
            case UInt8(ascii: "0"): _ = try pop()
            case UInt8(ascii: "1"): _ = try popMark()
            case UInt8(ascii: "2"): stack.append(try top())
            case UInt8(ascii: "c"):
                let module = try line("GLOBAL's module")
                let name = try line("GLOBAL's name")
                stack.append(.global(try allowed(module, name, "GLOBAL")))
            case 0x93:  // STACK_GLOBAL
                let name = try pop()
                let module = try pop()
                guard case .string(let moduleName) = module, case .string(let globalName) = name else {
                    throw fail("STACK_GLOBAL of a \(module.typeName) and a \(name.typeName)")
                }
                stack.append(.global(try allowed(moduleName, globalName, "STACK_GLOBAL")))
            case UInt8(ascii: "Q"):  // BINPERSID
                let id = try pop()
                do { stack.append(try persistentLoad(id)) } catch {
                    throw error.context.offset == nil ? error.adding(offset: UInt64(base + opcodeOffset)) : error
                }
            case UInt8(ascii: "R"):
                let arguments = try pop()
                let callable = try pop()
                stack.append(try reduce(callable, arguments))
            case UInt8(ascii: "b"):
                let state = try pop()
                try build(try top(), state)
            default:
                throw fail("pickle opcode \(Self.opcodeName(opcode)) is not allowed in a state_dict", .unsupported)
            }
        }
    }

    private mutating func made<T: AnyObject>(_ container: T) -> T {
        containers.append(container)
        return container
    }

    /// Empties every list and dict the run made (call when done with its values): a cyclic
    /// pickle's containers would otherwise keep each other alive.
    mutating func release() {
        for container in containers {
            (container as? PickleList)?.items = []
            if let dict = container as? PickleDict {
                dict.entries = []
                dict.attributes = []
            }
        }
        containers = []
        memo = [:]
        stack = []
    }

    private func recall(_ index: UInt32) throws(AmalgamError) -> PickleValue {
        guard let value = memo[index] else { throw fail("memo entry \(index) was never stored") }
        return value
    }

    private func allowed(_ module: String, _ name: String, _ opcode: String) throws(AmalgamError) -> TorchGlobal {
        if let global = TorchGlobal(module: module, name: name) { return global }
        if module == "torch", TorchGlobal.unsupportedDTypes.contains(name) {
            throw fail("tensors of dtype torch.\(name) are not supported (Amalgam has no such dtype)", .unsupported)
        }
        throw fail(
            "\(opcode) '\(module).\(name)' is not on the allow-list of a state_dict (refused, nothing executed)",
            .unsupported)
    }

    /// Names of the opcodes refused, for messages.
    static func opcodeName(_ opcode: UInt8) -> String {
        let names: [UInt8: String] = [
            0x69: "INST", 0x6F: "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x50: "PERSID", 0x82: "EXT1", 0x83: "EXT2",
            0x84: "EXT4", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER", 0x49: "INT", 0x4C: "LONG",
            0x46: "FLOAT", 0x53: "STRING", 0x56: "UNICODE", 0x70: "PUT", 0x67: "GET", 0x8B: "LONG4",
        ]
        let hex = String(opcode, radix: 16)
        return (names[opcode] ?? "byte") + " (0x" + (hex.count < 2 ? "0" : "") + hex + ")"
    }

    // MARK: Calls

    /// REDUCE: the allow-listed callables, each by its own rule; anything else refused.
    private mutating func reduce(_ callable: PickleValue, _ arguments: PickleValue) throws(AmalgamError) -> PickleValue
    {
        guard case .global(let global) = callable else { throw fail("REDUCE calls a \(callable.typeName)") }
        guard case .tuple(let args) = arguments else {
            throw fail("REDUCE of \(global.name) with a \(arguments.typeName)")
        }
        switch global {
        case .orderedDict:
            let dict = made(PickleDict())
            if let pairs = args.first?.sequence {
                for pair in pairs {
                    guard let items = pair.sequence, items.count == 2 else { throw fail("OrderedDict of a non-pair") }
                    dict.entries.append((items[0], items[1]))
                }
            }
            return .dict(dict)
        case .rebuildTensorV2, .rebuildTensorV3:
            return .tensor(try tensor(args, untypedDType: global == .rebuildTensorV3))
        case .rebuildParameter, .rebuildParameterWithState:
            guard let first = args.first, case .tensor = first else {
                throw fail("\(global.name) of a \(args.first?.typeName ?? "nothing")")
            }
            return first
        case .size:
            guard args.count == 1, let items = args[0].sequence, items.allSatisfy({ $0.intValue != nil }) else {
                throw fail("torch.Size of something other than integers")
            }
            return .tuple(items)
        case .set:
            return .set(args.first?.sequence ?? [])
        case .codecsEncode:
            guard args.count == 2, case .string(let text) = args[0] else {
                throw fail("_codecs.encode of a non-string")
            }
            var result: [UInt8] = []
            for scalar in text.unicodeScalars {
                guard scalar.value < 256 else { throw fail("_codecs.encode of a character beyond latin-1") }
                result.append(UInt8(scalar.value))
            }
            return .bytes(result)
        case .storageType, .dtype:
            throw fail("REDUCE calls \(global.name), which a state_dict never calls", .unsupported)
        }
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`, or
    /// v3 with the dtype after the hooks (untyped storages): a strided view, checked to lie
    /// inside its storage.
    private func tensor(_ args: [PickleValue], untypedDType: Bool) throws(AmalgamError) -> TorchTensor {
        guard args.count >= (untypedDType ? 7 : 4), case .storage(let storage) = args[0] else {
            throw fail("_rebuild_tensor with \(args.count) arguments, the first a \(args.first?.typeName ?? "nothing")")
        }
        guard let offset = args[1].intValue, offset >= 0,
            let size = args[2].sequence?.compactMap({ $0.intValue }), size.count == args[2].sequence?.count,
            let stride = args[3].sequence?.compactMap({ $0.intValue }), stride.count == size.count,
            size.allSatisfy({ $0 >= 0 }), stride.allSatisfy({ $0 >= 0 })
        else {
            throw fail(
                "tensor with a bad offset, size or stride (offset \(args[1]), size \(args[2]), stride \(args[3]))")
        }
        var dtype = storage.dtype
        if untypedDType {
            guard case .global(.dtype(let stated)) = args[6] else {
                throw fail("_rebuild_tensor_v3's dtype is a \(args[6].typeName)")
            }
            dtype = stated
        }
        guard let dtype else { throw fail("an untyped storage with no dtype") }
        // The furthest element the view reaches must lie inside the storage.
        let elements = storage.dtype == nil ? storage.region.count / dtype.byteWidth : storage.declaredCount
        if !size.contains(0), storage.isLocated {
            var extent = Int(offset)
            for (length, step) in zip(size, stride) {
                let (reach, overflow) = Int(length - 1).multipliedReportingOverflow(by: Int(step))
                let (sum, overflow2) = extent.addingReportingOverflow(reach)
                guard !overflow, !overflow2 else {
                    throw fail("tensor view overflows (size \(size), stride \(stride))", .overflow)
                }
                extent = sum
            }
            guard extent < elements, elements * dtype.byteWidth <= storage.region.count else {
                throw fail(
                    "tensor view (offset \(offset), size \(size), stride \(stride)) reaches element \(extent) of storage '\(storage.key)', which holds \(min(elements, storage.region.count / dtype.byteWidth))"
                )
            }
        }
        return TorchTensor(
            storage: storage, dtype: dtype, offset: Int(offset), size: size.map { Int($0) },
            stride: stride.map { Int($0) })
    }

    /// BUILD: a state_dict's `_metadata` (and other attributes) are recorded on a dict, never run;
    /// a tensor's state (`_rebuild_parameter_with_state`) is ignored. Anything else is refused.
    private func build(_ object: PickleValue, _ state: PickleValue) throws(AmalgamError) {
        switch object {
        case .dict(let dict):
            guard case .dict(let attributes) = state else { throw fail("BUILD of a dict with a \(state.typeName)") }
            dict.attributes += attributes.entries
        case .tensor: break
        default: throw fail("BUILD on a \(object.typeName)", .unsupported)
        }
    }
}
