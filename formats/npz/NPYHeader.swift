import AmalgamCore

/// The header of a `.npy` array: magic, version, and the Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
struct NPYHeader: Equatable {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// numpy's own limit on the dict text (`max_header_size`).
    static let maximumDictBytes = 10_000

    var dtype: DType
    /// True for `>` descrs: elements must be byte-swapped on read.
    var bigEndian: Bool
    var fortranOrder: Bool
    var shape: Shape
    /// The descr text as stored (`<f4`), for messages.
    var descr: String
    /// Bytes from the start of the file to the first element.
    var dataOffset: Int
    /// True when the dict's keys are in sorted order, as numpy writes them.
    var keysSorted = true

    /// numpy pads the header so the data starts at a multiple of this.
    static let dataAlignment = 64

    /// What numpy never writes but readers accept: data not 64-byte aligned, keys unsorted.
    var departures: [String] {
        var found: [String] = []
        if dataOffset % Self.dataAlignment != 0 {
            found.append(
                "npy data starts at byte \(dataOffset), not a multiple of \(Self.dataAlignment) (header not padded)")
        }
        if !keysSorted { found.append("npy header keys are not in sorted order") }
        return found
    }

    /// Parses the header at the start of `bytes` (which may extend past it).
    ///
    /// - Throws: `.invalidFormat` for a bad magic, version, length or dict; `.unsupported` for
    ///   pickled (`|O`), structured, string or other dtypes Amalgam does not represent.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(AmalgamError) -> NPYHeader {
        guard bytes.count >= 10, Array(bytes.prefix(6)) == magic else {
            throw AmalgamError(.invalidFormat, "not a .npy array (missing the \\x93NUMPY magic)", offset: 0)
        }
        let major = bytes[6]
        let minor = bytes[7]
        guard (1...3).contains(major), minor == 0 else {
            throw AmalgamError(
                .unsupported, ".npy version \(major).\(minor) is not supported (1.0, 2.0 and 3.0 are)", offset: 6)
        }
        let prefix = major == 1 ? 10 : 12
        guard bytes.count >= prefix else { throw AmalgamError(.invalidFormat, "truncated .npy header", offset: 8) }
        let length =
            major == 1
            ? Int(UInt16(bytes[8]) | UInt16(bytes[9]) << 8)
            : Int(UInt32(bytes[8]) | UInt32(bytes[9]) << 8 | UInt32(bytes[10]) << 16 | UInt32(bytes[11]) << 24)
        guard length <= maximumDictBytes else {
            throw AmalgamError(
                .invalidFormat, ".npy header of \(length) bytes exceeds the limit of \(maximumDictBytes)", offset: 8)
        }
        guard prefix + length <= bytes.count else {
            throw AmalgamError(
                .invalidFormat, ".npy header of \(length) bytes runs past the end of the data", offset: 8)
        }
        let dictBytes = UnsafeRawBufferPointer(rebasing: bytes[prefix..<(prefix + length)])
        let text: String
        if major == 3 {
            guard let utf8 = String(validating: dictBytes, as: UTF8.self) else {
                throw AmalgamError(.invalidFormat, ".npy version 3 header is not valid UTF-8", offset: UInt64(prefix))
            }
            text = utf8
        } else {
            text = String(dictBytes.map { Character(Unicode.Scalar($0)) })  // latin-1
        }
        var header = try parseDict(text, offset: prefix)
        header.dataOffset = prefix + length
        let positions = ["descr", "fortran_order", "shape"].compactMap {
            text.firstRange(of: "'\($0)'")?.lowerBound ?? text.firstRange(of: "\"\($0)\"")?.lowerBound
        }
        header.keysSorted = positions == positions.sorted()
        return header
    }

    private static func parseDict(_ text: String, offset: Int) throws(AmalgamError) -> NPYHeader {
        var parser = PythonLiteralParser(text: text, baseOffset: offset)
        let entries = try parser.parseHeaderDict()
        func fail(_ message: String) -> AmalgamError {
            AmalgamError(.invalidFormat, ".npy header: \(message)", offset: UInt64(offset))
        }
        for key in entries.keys where !["descr", "fortran_order", "shape"].contains(key) {
            throw fail("unknown key '\(key)'")
        }
        guard case .string(let descr)? = entries["descr"] else {
            if case .list? = entries["descr"] {
                throw AmalgamError(
                    .unsupported, "structured dtypes (a descr list) are not supported", offset: UInt64(offset))
            }
            throw fail("'descr' is missing or not a string")
        }
        guard case .bool(let fortran)? = entries["fortran_order"] else {
            throw fail("'fortran_order' is missing or not True/False")
        }
        guard case .tuple(let items)? = entries["shape"] else { throw fail("'shape' is missing or not a tuple") }
        var dimensions: [UInt64] = []
        for item in items {
            guard case .integer(let value) = item else {
                throw fail("'shape' holds something other than non-negative integers")
            }
            dimensions.append(value)
        }
        let (dtype, bigEndian) = try dtype(forDescr: descr, offset: offset)
        let shape: Shape
        do {
            shape = try Shape(checking: dimensions)
            _ = try shape.byteCount(elementBytes: dtype.byteWidth)
        } catch {
            throw error.adding(offset: UInt64(offset))
        }
        return NPYHeader(
            dtype: dtype, bigEndian: bigEndian, fortranOrder: fortran, shape: shape, descr: descr, dataOffset: 0)
    }

    /// Maps a numpy descr to a dtype and byte order.
    static func dtype(forDescr descr: String, offset: Int = 0) throws(AmalgamError) -> (DType, Bool) {
        let order = descr.first ?? "?"
        let code = String(descr.dropFirst())
        if descr.count >= 2, "<>|=".contains(order) {
            let table: [String: DType] = [
                "b1": .bool, "u1": .u8, "i1": .i8, "u2": .u16, "i2": .i16, "u4": .u32, "i4": .i32, "u8": .u64,
                "i8": .i64,
                "f2": .f16, "f4": .f32, "f8": .f64, "c8": .c64, "c16": .c128,
            ]
            if let dtype = table[code] {
                let bigEndian = order == ">" && dtype.byteWidth > 1
                return (dtype, bigEndian)
            }
            if code == "O" {
                throw AmalgamError(
                    .unsupported, "descr '\(descr)' is a pickled Python object array; Amalgam never unpickles",
                    offset: UInt64(offset))
            }
            if code.hasPrefix("V") {
                throw AmalgamError(
                    .unsupported,
                    "descr '\(descr)' holds raw \(code.dropFirst())-byte values with no dtype (ml_dtypes bfloat16 and float8 save this way); write them with amalgam --keep-dtype or as float32",
                    offset: UInt64(offset))
            }
        }
        throw AmalgamError(.unsupported, "descr '\(descr)' is not a dtype Amalgam supports", offset: UInt64(offset))
    }

    /// The numpy descr of `dtype` (little-endian); nil where numpy has none (bf16, f8).
    static func descr(for dtype: DType) -> String? {
        switch dtype {
        case .bool: "|b1"
        case .u8: "|u1"
        case .i8: "|i1"
        case .u16: "<u2"
        case .i16: "<i2"
        case .u32: "<u4"
        case .i32: "<i4"
        case .u64: "<u8"
        case .i64: "<i8"
        case .f16: "<f2"
        case .f32: "<f4"
        case .f64: "<f8"
        case .c64: "<c8"
        case .c128: "<c16"
        case .bf16, .f8_e4m3, .f8_e5m2: nil
        }
    }

    /// The header bytes numpy's `np.save` writes: version 1.0 (2.0 when
    /// the dict does not fit in 65535 bytes), keys sorted, spare room after the dict for the
    /// first axis to grow (21 digits, as numpy), padded so the data starts 64-byte aligned.
    static func serialize(descr: String, shape: [Int], fortranOrder: Bool = false) -> [UInt8] {
        let shapeText: String
        switch shape.count {
        case 0: shapeText = "()"
        case 1: shapeText = "(\(shape[0]),)"
        default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
        }
        var dict = "{'descr': '\(descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
        // numpy leaves room for the growth axis (the first, or the last for Fortran order).
        if let growth = fortranOrder ? shape.last : shape.first {
            dict += String(repeating: " ", count: max(0, 21 - String(growth).count))
        }
        var prefixLength = 10
        if dict.utf8.count + 1 + 10 > 65535 { prefixLength = 12 }
        let padding = 64 - (prefixLength + dict.utf8.count + 1) % 64
        dict += String(repeating: " ", count: padding == 64 ? 0 : padding) + "\n"
        let length = dict.utf8.count
        var bytes = magic + (prefixLength == 10 ? [1, 0] : [2, 0])
        if prefixLength == 10 {
            bytes += [UInt8(length & 0xFF), UInt8(length >> 8)]
        } else {
            bytes += (0..<4).map { UInt8((length >> (8 * $0)) & 0xFF) }
        }
        return bytes + Array(dict.utf8)
    }
}
