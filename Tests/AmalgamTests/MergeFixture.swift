import Foundation
import TestSupport
import Testing

@testable import Amalgam

/// Writes a base and `count` fine-tunes (base plus seeded noise, or low-rank updates).
struct MergeFixture {
    let folder = CLI.scratch()
    let base: ModelGraph

    init() throws {
        base = try DemoModel.make(vocabulary: 32, hidden: 16, intermediate: 24, layers: 1, seed: 1)
    }

    /// A fine-tune of the base: every float tensor plus `scale` times seeded noise.
    func source(seed: UInt64, scale: Float = 0.05) throws -> ModelGraph {
        var random = SeededRandom(seed: seed)
        return try base.mapTensors { tensor in
            guard tensor.encoding == .plain(.f32) else { return tensor }
            let values = try tensor.floatValues().map { $0 + scale * random.nextSignedUnitFloat() }
            return Tensor(name: tensor.name, shape: tensor.shape, floats: values)
        }
    }

    @discardableResult
    func write(_ graph: ModelGraph, _ name: String) throws -> String {
        let path = folder + "/" + name
        let format = name.hasSuffix(".npz") ? "npz" : name.hasSuffix(".onnx") ? "onnx" : "safetensors"
        try Amalgam.builtInFormats.writer(named: format).write(graph, to: path, settings: OutputSettings())
        return path
    }
}
