import AmalgamCore
import CONNXProto
import CProtobufC

/// An ONNX model as Amalgam needs it: the model fields and the graph tree, decoded through
/// protobuf-c from bytes prepared by `UnpackPreparation` (so no tensor data is copied).
struct ONNXModel {
    /// A serialized protobuf may not exceed this (larger models must use external data).
    static let protobufLimit = Int(Int32.max)

    var irVersion: Int64?
    var opsets: [(domain: String, version: Int64)]
    var producerName: String
    var producerVersion: String
    var domain: String
    var modelVersion: Int64?
    var docString: String
    var metadataProps: [(key: String, value: String)]
    var graph: ONNXGraph

    /// Parses the ModelProto in `bytes`, the contents of the file `path`.
    init(bytes: UnsafeRawBufferPointer, path: String) throws(AmalgamError) {
        guard bytes.count <= Self.protobufLimit else {
            throw AmalgamError(
                .overflow,
                "the file is \(bytes.count) bytes, over protobuf's 2 GiB limit; models this large must keep weights in external data",
                file: path)
        }
        let prepared = try UnpackPreparation(bytes: bytes, path: path)
        let unpacked = prepared.output.withUnsafeBufferPointer { buffer in
            onnx__model_proto__unpack(nil, buffer.count, buffer.baseAddress)
        }
        guard let unpacked else {
            throw AmalgamError(
                .invalidFormat, "not a valid ONNX ModelProto (protobuf-c could not unpack it)", file: path)
        }
        defer { onnx__model_proto__free_unpacked(unpacked, nil) }
        let model = unpacked.pointee
        guard let graph = model.graph else {
            throw AmalgamError(.invalidFormat, "the ModelProto has no graph", file: path)
        }
        irVersion = model.has_ir_version != 0 ? model.ir_version : nil
        opsets = Self.array(model.opset_import, model.n_opset_import).compactMap {
            $0.map { (Self.text($0.pointee.domain), $0.pointee.version) }
        }
        producerName = Self.text(model.producer_name)
        producerVersion = Self.text(model.producer_version)
        domain = Self.text(model.domain)
        modelVersion = model.has_model_version != 0 ? model.model_version : nil
        docString = Self.text(model.doc_string)
        metadataProps = Self.array(model.metadata_props, model.n_metadata_props).compactMap {
            $0.map { (Self.text($0.pointee.key), Self.text($0.pointee.value)) }
        }
        self.graph = try Self.decode(graph.pointee, path: path)
    }

    private static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    private static func array<T>(_ pointer: UnsafeMutablePointer<T>?, _ count: Int) -> UnsafeBufferPointer<T> {
        UnsafeBufferPointer(start: pointer, count: pointer == nil ? 0 : count)
    }

    private static func strings(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ count: Int)
        -> [String]
    {
        array(pointer, count).map { text($0) }
    }

    private static func decode(_ graph: Onnx__GraphProto, path: String) throws(AmalgamError) -> ONNXGraph {
        var nodes: [ONNXNode] = []
        for pointer in array(graph.node, graph.n_node) {
            guard let node = pointer?.pointee else { continue }
            var decoded = ONNXNode(
                name: text(node.name), opType: text(node.op_type), inputs: strings(node.input, node.n_input),
                outputs: strings(node.output, node.n_output), integers: [:], constant: nil, subgraphs: [])
            for attributePointer in array(node.attribute, node.n_attribute) {
                guard let attribute = attributePointer?.pointee else { continue }
                let name = text(attribute.name)
                if attribute.has_i != 0 { decoded.integers[name] = attribute.i }
                if let tensor = attribute.t, decoded.opType == "Constant", name == "value" {
                    var constant = try decode(tensor.pointee, path: path)
                    constant.name = decoded.outputs.first ?? constant.name
                    decoded.constant = constant
                }
                if let subgraph = attribute.g {
                    decoded.subgraphs.append((name, try decode(subgraph.pointee, path: path)))
                }
                for (index, subgraph) in array(attribute.graphs, attribute.n_graphs).enumerated() {
                    guard let subgraph else { continue }
                    decoded.subgraphs.append(("\(name)[\(index)]", try decode(subgraph.pointee, path: path)))
                }
            }
            nodes.append(decoded)
        }
        var initializers: [ONNXTensorProto] = []
        for pointer in array(graph.initializer, graph.n_initializer) {
            guard let tensor = pointer?.pointee else { continue }
            initializers.append(try decode(tensor, path: path))
        }
        var sparse: [ONNXSparseTensor] = []
        for pointer in array(graph.sparse_initializer, graph.n_sparse_initializer) {
            guard let tensor = pointer?.pointee else { continue }
            guard let values = tensor.values, let indices = tensor.indices else {
                throw AmalgamError(.invalidFormat, "a sparse initializer lacks its values or indices", file: path)
            }
            sparse.append(
                ONNXSparseTensor(
                    values: try decode(values.pointee, path: path), indices: try decode(indices.pointee, path: path),
                    dims: Array(array(tensor.dims, tensor.n_dims))))
        }
        return ONNXGraph(name: text(graph.name), nodes: nodes, initializers: initializers, sparseInitializers: sparse)
    }

    private static func decode(_ tensor: Onnx__TensorProto, path: String) throws(AmalgamError) -> ONNXTensorProto {
        let name = text(tensor.name)
        do throws(AmalgamError) {
            guard tensor.has_data_type != 0 else { throw AmalgamError(.invalidFormat, "TensorProto has no data_type") }
            let dims = Array(array(tensor.dims, tensor.n_dims))
            let code = tensor.data_type
            var fields: [String] = []
            var data = ONNXTensorData.none

            // The stripped raw_data marker (see UnpackPreparation); the last one wins.
            // protobuf-c keeps an unknown field's length prefix (one byte, 16) in its data.
            for unknown in array(tensor.base.unknown_fields, Int(tensor.base.n_unknown_fields))
            where UInt64(unknown.tag) == UnpackPreparation.rawDataMarkerField && unknown.len == 17
                && unknown.data[0] == 16
            {
                let payload = UnsafeRawBufferPointer(start: unknown.data + 1, count: 16)
                let offset = payload.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
                let count = payload.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian
                data = .raw(offset: Int(offset), count: Int(count))
                if fields.isEmpty { fields.append("raw_data") }
            }
            if tensor.has_raw_data != 0, tensor.raw_data.len > 0 {
                // Only reachable for bytes that bypassed preparation; copy them.
                data = .typed(Array(UnsafeRawBufferPointer(start: tensor.raw_data.data, count: tensor.raw_data.len)))
                fields.append("raw_data")
            }
            if tensor.n_float_data > 0 {
                fields.append("float_data")
                data = .typed(
                    try typedBytes(
                        array(tensor.float_data, tensor.n_float_data), code: code, field: "float_data",
                        allowed: [ONNXDataType.float, ONNXDataType.complex64]
                    ) { value, out in
                        withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) }
                    })
            }
            if tensor.n_int32_data > 0 {
                fields.append("int32_data")
                data = .typed(try int32Bytes(array(tensor.int32_data, tensor.n_int32_data), code: code))
            }
            if tensor.n_int64_data > 0 {
                fields.append("int64_data")
                data = .typed(
                    try typedBytes(
                        array(tensor.int64_data, tensor.n_int64_data), code: code, field: "int64_data",
                        allowed: [ONNXDataType.int64]
                    ) { value, out in
                        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
                    })
            }
            if tensor.n_double_data > 0 {
                fields.append("double_data")
                data = .typed(
                    try typedBytes(
                        array(tensor.double_data, tensor.n_double_data), code: code, field: "double_data",
                        allowed: [ONNXDataType.double, ONNXDataType.complex128]
                    ) { value, out in
                        withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) }
                    })
            }
            if tensor.n_uint64_data > 0 {
                fields.append("uint64_data")
                data = .typed(
                    try typedBytes(
                        array(tensor.uint64_data, tensor.n_uint64_data), code: code, field: "uint64_data",
                        allowed: [ONNXDataType.uint32, ONNXDataType.uint64]
                    ) { value, out in
                        if code == ONNXDataType.uint32 {
                            withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) {
                                out.append(contentsOf: $0)
                            }
                        } else {
                            withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
                        }
                    })
            }
            if tensor.n_string_data > 0 { fields.append("string_data") }
            if tensor.has_data_location != 0, tensor.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL {
                fields.append("external_data")
                var entries: [String: String] = [:]
                for pointer in array(tensor.external_data, tensor.n_external_data) {
                    guard let entry = pointer?.pointee else { continue }
                    let key = text(entry.key)
                    guard entries[key] == nil else {
                        throw AmalgamError(.invalidFormat, "external_data repeats the key '\(key)'")
                    }
                    entries[key] = text(entry.value)
                }
                data = .external(location: entries["location"], offset: entries["offset"], length: entries["length"])
            }
            guard fields.count <= 1 else {
                throw AmalgamError(
                    .invalidFormat, "TensorProto sets more than one data field (\(fields.joined(separator: ", ")))")
            }
            return ONNXTensorProto(name: name, dims: dims, dataType: code, data: data)
        } catch {
            throw error.adding(file: path, tensor: name)
        }
    }

    private static func typedBytes<T>(
        _ values: UnsafeBufferPointer<T>, code: Int32, field: String, allowed: [Int32],
        append: (T, inout [UInt8]) -> Void
    ) throws(AmalgamError) -> [UInt8] {
        guard allowed.contains(code) else {
            throw AmalgamError(.invalidFormat, "a \(ONNXDataType.name(code)) tensor cannot keep its values in \(field)")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * MemoryLayout<T>.size)
        for value in values { append(value, &bytes) }
        return bytes
    }

    /// `int32_data` holds int32 values, and the bit patterns of the narrower types (bool,
    /// 8- and 16-bit integers, float16, bfloat16, float8) one per element, or for the 4-bit
    /// types one packed byte each.
    private static func int32Bytes(_ values: UnsafeBufferPointer<Int32>, code: Int32) throws(AmalgamError) -> [UInt8] {
        let width: Int
        switch code {
        case ONNXDataType.int32: width = 4
        case ONNXDataType.int16, ONNXDataType.uint16, ONNXDataType.float16, ONNXDataType.bfloat16: width = 2
        // 4-bit types: each int32 holds one byte of packed pairs, as in raw_data.
        case ONNXDataType.int8, ONNXDataType.uint8, ONNXDataType.bool, ONNXDataType.float8e4m3fn,
            ONNXDataType.float8e5m2,
            ONNXDataType.int4, ONNXDataType.uint4:
            width = 1
        default:
            throw AmalgamError(
                .invalidFormat, "a \(ONNXDataType.name(code)) tensor cannot keep its values in int32_data")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * width)
        for value in values {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0.prefix(width)) }
        }
        return bytes
    }
}
