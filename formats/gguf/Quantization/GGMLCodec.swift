import AmalgamCore

/// The `QuantizedCodec` of every block-quantised ggml type: decoding for all of them but
/// Q1_0, encoding for the types `GGUFQuantizer` implements.
struct GGMLCodec: QuantizedCodec {
    let type: GGMLType

    var name: String { type.name }
    var blockElements: Int { type.blockLayout.elements }
    var blockBytes: Int { type.blockLayout.bytes }

    func decode(_ blocks: UnsafeRawBufferPointer, into values: UnsafeMutableBufferPointer<Float>) throws {
        let count = blocks.count / blockBytes
        precondition(values.count >= count * blockElements && blocks.count == count * blockBytes)
        guard count > 0 else { return }
        let input = blocks.baseAddress!
        let output = values.baseAddress!
        switch type {
        case .q4_0: BlockDecoders.q4_0(input, output, count)
        case .q4_1: BlockDecoders.q4_1(input, output, count)
        case .q5_0: BlockDecoders.q5_0(input, output, count)
        case .q5_1: BlockDecoders.q5_1(input, output, count)
        case .q8_0: BlockDecoders.q8_0(input, output, count)
        case .q8_1: BlockDecoders.q8_1(input, output, count)
        case .q2_K: BlockDecoders.q2_K(input, output, count)
        case .q3_K: BlockDecoders.q3_K(input, output, count)
        case .q4_K: BlockDecoders.q4_K(input, output, count)
        case .q5_K: BlockDecoders.q5_K(input, output, count)
        case .q6_K: BlockDecoders.q6_K(input, output, count)
        case .q8_K: BlockDecoders.q8_K(input, output, count)
        case .iq4_NL: BlockDecoders.iq4_NL(input, output, count)
        case .iq4_XS: BlockDecoders.iq4_XS(input, output, count)
        case .tq1_0: BlockDecoders.tq1_0(input, output, count)
        case .tq2_0: BlockDecoders.tq2_0(input, output, count)
        case .mxfp4: BlockDecoders.mxfp4(input, output, count)
        case .nvfp4: BlockDecoders.nvfp4(input, output, count)
        case .iq2_XXS: IQDecoders.iq2_XXS(input, output, count)
        case .iq2_XS: IQDecoders.iq2_XS(input, output, count)
        case .iq2_S: IQDecoders.iq2_S(input, output, count)
        case .iq3_XXS: IQDecoders.iq3_XXS(input, output, count)
        case .iq3_S: IQDecoders.iq3_S(input, output, count)
        case .iq1_S: IQDecoders.iq1_S(input, output, count)
        case .iq1_M: IQDecoders.iq1_M(input, output, count)
        default:
            throw AmalgamError(
                .unsupported,
                "unsupported encoding \(name): Amalgam cannot decode it (it can still copy it unchanged into another GGUF file)"
            )
        }
    }

    func roundingErrorEnergy(_ blocks: UnsafeRawBufferPointer) -> Double? {
        let count = blocks.count / blockBytes
        guard count > 0, blocks.count == count * blockBytes else { return count == 0 ? 0 : nil }
        return RoundingSteps.sumOfSquaredSteps(type, blocks.baseAddress!, count).map { $0 / 12 }
    }

    var canEncode: Bool { GGUFQuantizer.encodable.contains(type) }

    func encode(_ values: UnsafeBufferPointer<Float>, into blocks: UnsafeMutableRawBufferPointer) throws {
        try GGUFQuantizer.encode(values, as: type, into: blocks)
    }
}
