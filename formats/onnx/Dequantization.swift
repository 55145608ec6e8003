import AmalgamCore

/// Weights a graph stores quantised and turns back into floats with its own nodes, read as
/// the f32 tensors the graph computes:
/// - `DequantizeLinear(q, scale[, zero_point])` (per tensor, or per `axis`; blocked
///   quantisation is left alone), `y = (q − zero_point) · scale`;
/// - `Mul(Cast(q, to: FLOAT), scale)` with numpy broadcasting (the form PyTorch's int8
///   exports use), `y = float(q) · scale`.
/// `q`, `scale` and `zero_point` must be initializers of the main graph; the tensor is named
/// after the chain's output (name recovery then applies), and initializers that only feed
/// such chains are absorbed. The values are the same f32 products onnxruntime computes.
enum Dequantization {
    struct Chain {
        var output: String
        var quantized: String
        var scale: String
        var zeroPoint: String?
        /// DequantizeLinear's axis for a 1-D scale.
        var axis: Int?
        /// Names of the nodes of the chain, to tell which consumers it accounts for.
        var nodes: [String]
    }

    static let integerTypes: Set<DType> = [.i8, .u8, .i16, .u16, .i32]

    /// The chains of `graph` whose inputs are in `initializers` (by name).
    static func chains(in graph: ONNXGraph, initializers: [String: ONNXEntry]) -> [Chain] {
        var producers: [String: (node: ONNXNode, index: Int)] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { producers[output] = (node, index) }
        }
        func isQuantized(_ name: String) -> Bool { initializers[name].map { integerTypes.contains($0.dtype) } ?? false }
        func isScale(_ name: String) -> Bool { initializers[name]?.dtype == .f32 }
        var chains: [Chain] = []
        for (index, node) in graph.nodes.enumerated() {
            guard let output = node.outputs.first, !output.isEmpty else { continue }
            let label = node.label(index: index)
            switch node.opType {
            case "DequantizeLinear":
                guard node.inputs.count >= 2, isQuantized(node.inputs[0]), isScale(node.inputs[1]),
                    (node.integers["block_size"] ?? 0) == 0
                else { continue }
                let zeroPoint = node.inputs.count >= 3 && !node.inputs[2].isEmpty ? node.inputs[2] : nil
                if let zeroPoint, initializers[zeroPoint]?.dtype != initializers[node.inputs[0]]?.dtype { continue }
                chains.append(
                    Chain(
                        output: output, quantized: node.inputs[0], scale: node.inputs[1], zeroPoint: zeroPoint,
                        axis: Int(node.integers["axis"] ?? 1), nodes: [label]))
            case "Mul":
                guard node.inputs.count == 2 else { continue }
                for (castInput, scale) in [(node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])] {
                    guard isScale(scale), let (cast, castIndex) = producers[castInput], cast.opType == "Cast",
                        cast.integers["to"] == Int64(ONNXDataType.float),
                        let quantized = cast.inputs.first, isQuantized(quantized)
                    else { continue }
                    chains.append(
                        Chain(
                            output: output, quantized: quantized, scale: scale, zeroPoint: nil, axis: nil,
                            nodes: [label, cast.label(index: castIndex)]))
                    break
                }
            default:
                continue
            }
        }
        return chains
    }

    /// The f32 tensor a chain computes, as an entry whose bytes are produced on demand.
    static func entry(for chain: Chain, initializers: [String: ONNXEntry], path: String) throws -> ONNXEntry {
        let quantized = initializers[chain.quantized]!
        let scale = initializers[chain.scale]!
        let zeroPoint = chain.zeroPoint.flatMap { initializers[$0] }
        return try AmalgamError.withContext(file: path, tensor: chain.output) {
            let dims = quantized.storedShape.dimensions
            // How each element of q finds its scale (and zero point): broadcast strides.
            let scaleDims: [Int]
            if let axis = chain.axis, scale.storedShape.elementCount > 1 {
                let resolved = axis < 0 ? axis + dims.count : axis
                guard resolved >= 0, resolved < dims.count, scale.storedShape.dimensions == [dims[resolved]] else {
                    throw AmalgamError(
                        .invalidFormat,
                        "DequantizeLinear scale of shape \(scale.storedShape) does not fit axis \(axis) of \(quantized.storedShape)"
                    )
                }
                scaleDims = dims.indices.map { $0 == resolved ? dims[resolved] : 1 }
            } else {
                let own = scale.storedShape.dimensions
                guard own.count <= dims.count else {
                    throw AmalgamError(
                        .invalidFormat,
                        "scale of shape \(scale.storedShape) does not broadcast to \(quantized.storedShape)")
                }
                scaleDims = [Int](repeating: 1, count: dims.count - own.count) + own
                for (d, s) in zip(dims, scaleDims) where s != 1 && s != d {
                    throw AmalgamError(
                        .invalidFormat,
                        "scale of shape \(scale.storedShape) does not broadcast to \(quantized.storedShape)")
                }
            }
            if let zeroPoint, zeroPoint.storedShape.elementCount != scale.storedShape.elementCount {
                throw AmalgamError(
                    .invalidFormat,
                    "zero point of shape \(zeroPoint.storedShape) does not match the scale's \(scale.storedShape)")
            }
            var strides = [Int](repeating: 0, count: dims.count)
            var step = 1
            for axis in stride(from: dims.count - 1, through: 0, by: -1) {
                strides[axis] = scaleDims[axis] == 1 ? 0 : step
                step *= scaleDims[axis]
            }
            let count = quantized.storedShape.elementCount
            let scaleStrides = strides
            let (q, s, z) = (quantized.storedRegion, scale.storedRegion, zeroPoint?.storedRegion)
            let dtype = quantized.dtype
            var result = quantized
            result.qualifiedName = chain.output
            result.canonicalName = chain.output
            result.kind = .dequantized
            result.dtype = .f32
            result.densify = {
                let buffer = OwnedBuffer(byteCount: count * 4)
                let out = buffer.pointer.assumingMemoryBound(to: Float.self)
                let zeros: [Int64] =
                    z.map { region in
                        region.withUnsafeBytes { raw in
                            (0..<(region.count / dtype.byteWidth)).map {
                                Int64(ElementConversion.loadDouble(raw.baseAddress!, as: dtype, at: $0))
                            }
                        }
                    } ?? []
                q.withUnsafeBytes { qs in
                    s.withUnsafeBytes { ss in
                        var index = [Int](repeating: 0, count: dims.count)
                        for element in 0..<count {
                            var position = 0
                            for axis in dims.indices { position += index[axis] * scaleStrides[axis] }
                            // In 64 bits: an INT32 value minus its zero point can leave 32.
                            let value = Int64(ElementConversion.loadDouble(qs.baseAddress!, as: dtype, at: element))
                            let zero = zeros.isEmpty ? 0 : zeros[position]
                            out[element] =
                                Float(value - zero) * ss.loadUnaligned(fromByteOffset: 4 * position, as: Float.self)
                            // Next multi-index, last axis fastest.
                            var axis = dims.count - 1
                            while axis >= 0 {
                                index[axis] += 1
                                if index[axis] < dims[axis] { break }
                                index[axis] = 0
                                axis -= 1
                            }
                        }
                    }
                }
                return buffer.region
            }
            return result
        }
    }
}
