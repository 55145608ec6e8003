import AmalgamCore
import TestSupport
import Testing

@testable import GGUFFormat

struct GGUFRoundTripTests {
    @Test("a graph written as GGUF reads back with its names, shapes, values and typed metadata")
    func roundTrip() throws {
        let folder = Scratch.folder()
        var random = SeededRandom(seed: 3)
        let weight = (0..<(64 * 32)).map { _ in Float(random.nextGaussian()) }
        var metadata = Metadata()
        metadata["custom.u16"] = .u16(7)
        metadata["custom.list"] = .array([.f64(0.5), .f64(-2)])
        var graph = try ModelGraph(
            tensors: [
                Tensor(name: "layers.0.weight", shape: [64, 32], floats: weight),
                Tensor(name: "bias", shape: [3], floats: [1, 2, 3]),
            ],
            metadata: metadata, architecture: ArchitectureHints(name: "mlp"))
        graph.sourceFormat = nil
        let path = folder + "/m.gguf"
        _ = try GGUFPlugin().write(graph, to: path, options: GGUFWriterOptions(quant: "q8_0"))
        let read = try GGUFPlugin().load(path)
        #expect(read.tensors.map(\.name) == ["layers.0.weight", "bias"])
        #expect(read.tensors[0].encoding.description == "Q8_0" && read.tensors[0].shape == [64, 32])
        #expect(read.tensors[1].encoding == .plain(.f32))
        #expect(try read.tensors[1].floatValues() == [1, 2, 3])
        #expect(
            read.metadata["custom.u16"] == .u16(7) && read.metadata["custom.list"] == .array([.f64(0.5), .f64(-2)]))
        #expect(
            read.metadata["general.architecture"] == .string("mlp")
                && read.metadata["general.quantization_version"] == .u32(2))
        #expect(read.notes == ["architecture 'mlp' has no name table in Amalgam: GGUF tensor names kept verbatim"])
        let decoded = try read.tensors[0].floatValues()
        #expect(zip(weight, decoded).allSatisfy { abs($0 - $1) < 0.03 })
    }
}
