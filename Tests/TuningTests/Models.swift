import AmalgamCore
import LinearAlgebra
import Testing

@testable import Tuning

/// Small random models in memory, for gradient checks and learning tests.
enum Models {
    static func random(_ shape: [Int], _ generator: inout SeededRandom, scale: Float = 0.5, offset: Float = 0)
        -> [Float]
    {
        (0..<shape.reduce(1, *)).map { _ in offset + scale * Float(generator.nextUnit() * 2 - 1) }
    }

    static func graph(_ tensors: [(String, [Int])], seed: UInt64, metadata: Metadata = Metadata()) throws -> ModelGraph
    {
        var generator = SeededRandom(seed: seed)
        let made = tensors.map { name, shape in
            // Norm weights near 1, everything else small and centred.
            Tensor(
                name: name, shape: Shape(shape),
                floats: random(
                    shape, &generator, scale: 0.5,
                    offset: name.hasSuffix("LayerNorm.weight")
                        || name.contains("layernorm") && name.hasSuffix(".weight") ? 1 : 0))
        }
        return try ModelGraph(tensors: made, metadata: metadata)
    }

    static func mlp(widths: [Int], seed: UInt64) throws -> ModelGraph {
        var tensors: [(String, [Int])] = []
        for (index, (input, output)) in zip(widths, widths.dropFirst()).enumerated() {
            tensors += [("layers.\(index * 2).weight", [output, input]), ("layers.\(index * 2).bias", [output])]
        }
        return try graph(tensors, seed: seed)
    }

    static func bert(
        vocabulary: Int = 11, width: Int = 8, layers: Int = 2, intermediate: Int = 12, positions: Int = 7,
        classes: Int? = 3, seed: UInt64
    ) throws -> ModelGraph {
        var tensors: [(String, [Int])] = [
            ("embeddings.word_embeddings.weight", [vocabulary, width]),
            ("embeddings.position_embeddings.weight", [positions, width]),
            ("embeddings.token_type_embeddings.weight", [2, width]), ("embeddings.LayerNorm.weight", [width]),
            ("embeddings.LayerNorm.bias", [width]),
        ]
        for l in 0..<layers {
            let p = "encoder.layer.\(l)"
            for part in ["query", "key", "value"] {
                tensors += [
                    ("\(p).attention.self.\(part).weight", [width, width]),
                    ("\(p).attention.self.\(part).bias", [width]),
                ]
            }
            tensors += [
                ("\(p).attention.output.dense.weight", [width, width]), ("\(p).attention.output.dense.bias", [width]),
                ("\(p).attention.output.LayerNorm.weight", [width]), ("\(p).attention.output.LayerNorm.bias", [width]),
                ("\(p).intermediate.dense.weight", [intermediate, width]),
                ("\(p).intermediate.dense.bias", [intermediate]),
                ("\(p).output.dense.weight", [width, intermediate]), ("\(p).output.dense.bias", [width]),
                ("\(p).output.LayerNorm.weight", [width]), ("\(p).output.LayerNorm.bias", [width]),
            ]
        }
        if let classes { tensors += [("classifier.weight", [classes, width]), ("classifier.bias", [classes])] }
        return try graph(tensors, seed: seed)
    }

    static func vit(
        channels: Int = 2, patch: Int = 2, image: Int = 4, width: Int = 8, layers: Int = 1, classes: Int = 3,
        seed: UInt64
    ) throws -> ModelGraph {
        let length = (image / patch) * (image / patch) + 1
        var tensors: [(String, [Int])] = [
            ("embeddings.cls_token", [1, 1, width]), ("embeddings.position_embeddings", [1, length, width]),
            ("embeddings.patch_embeddings.projection.weight", [width, channels, patch, patch]),
            ("embeddings.patch_embeddings.projection.bias", [width]),
        ]
        for l in 0..<layers {
            let p = "encoder.layer.\(l)"
            for part in ["query", "key", "value"] {
                tensors += [
                    ("\(p).attention.attention.\(part).weight", [width, width]),
                    ("\(p).attention.attention.\(part).bias", [width]),
                ]
            }
            tensors += [
                ("\(p).attention.output.dense.weight", [width, width]), ("\(p).attention.output.dense.bias", [width]),
                ("\(p).layernorm_before.weight", [width]), ("\(p).layernorm_before.bias", [width]),
                ("\(p).layernorm_after.weight", [width]), ("\(p).layernorm_after.bias", [width]),
                ("\(p).intermediate.dense.weight", [2 * width, width]), ("\(p).intermediate.dense.bias", [2 * width]),
                ("\(p).output.dense.weight", [width, 2 * width]), ("\(p).output.dense.bias", [width]),
            ]
        }
        tensors += [
            ("layernorm.weight", [width]), ("layernorm.bias", [width]), ("classifier.weight", [classes, width]),
            ("classifier.bias", [classes]),
        ]
        return try graph(tensors, seed: seed)
    }
}
