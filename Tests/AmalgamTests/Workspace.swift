import Foundation

@testable import Amalgam

/// A folder holding the files the examples of `--help` and the README name: a small llama
/// model (`model.safetensors` with its config.json, `model.gguf` in Q8_0), a base and two
/// fine-tunes of it (`base.safetensors`, `a.safetensors`, `b.npz`), a classifier with two
/// fine-tunes, their AXIS merge, factors and report (`classifier-*.safetensors`, `merge-report.json`), its data
/// (`train.npz`, `test.npz`), a recipe (`recipe.json`) and a mergekit configuration (`mergekit.yml`), a vocabulary and texts to tokenise
/// (`vocab.txt`, `texts.txt`) and the digits CSV. Built once; `copy()` gives each
/// test a fresh folder.
struct Workspace {
    let folder: String

    static let shared: Result<Workspace, any Error> = Result { try Workspace() }

    private init() throws {
        folder = CLI.scratch()
        let model = try DemoModel.make(vocabulary: 32, hidden: 16, intermediate: 32, layers: 1)
        try write(model, "model.safetensors")
        _ = try Amalgam.convert(
            folder + "/model.safetensors",
            to: ModelOutput(path: folder + "/model.gguf", settings: OutputSettings(quant: "q8_0")))
        let fixture = try MergeFixture()
        try write(fixture.base, "base.safetensors")
        try write(try fixture.source(seed: 2), "a.safetensors")
        try write(try fixture.source(seed: 3), "b.npz")

        let classifier = try Self.classifier(seed: 1)
        try write(classifier, "classifier-base.safetensors")
        for (name, seed) in [("classifier-a.safetensors", UInt64(2)), ("classifier-b.safetensors", 3)] {
            try write(try Self.perturbed(classifier, seed: seed), name)
        }
        var merge = MergeOptions(
            base: folder + "/classifier-base.safetensors",
            sources: [folder + "/classifier-a.safetensors", folder + "/classifier-b.safetensors"],
            method: AXISMerge(count: 4), outputs: [ModelOutput(path: folder + "/classifier-merged.safetensors")])
        merge.factors = folder + "/classifier-factors.safetensors"
        merge.report = folder + "/merge-report.json"
        _ = try Amalgam.merge(merge)
        try write(try Self.data(count: 96, seed: 4), "train.npz")
        try write(try Self.data(count: 48, seed: 5), "test.npz")
        try """
        {"base": "base.safetensors", "sources": ["a.safetensors", "b.npz"], "method": "axis", "options": {"k": 2},
         "outputs": [{"path": "merged.safetensors"}, {"path": "merged-f16/", "dtype": "f16"}],
         "factors": "factors.safetensors", "report": "report.json"}
        """.write(toFile: folder + "/recipe.json", atomically: true, encoding: .utf8)
        try """
        merge_method: ties
        base_model: base.safetensors
        models:
          - model: a.safetensors
            parameters: {weight: 0.6, density: 0.5}
          - model: b.npz
            parameters:
              weight: [0.2, 0.8]
              density: 0.5
        dtype: float32
        """.write(toFile: folder + "/mergekit.yml", atomically: true, encoding: .utf8)
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\ncat\nsat\non\nmat\n##s\n.\n".write(
            toFile: folder + "/vocab.txt", atomically: true, encoding: .utf8)
        try "0\tThe cats sat on the mat.\n1\tthe cat\n".write(
            toFile: folder + "/texts.txt", atomically: true, encoding: .utf8)
        // The vision zoo's digits, which make test extracts from scikit-learn's wheel.
        if FileManager.default.fileExists(atPath: Self.digits) {
            try FileManager.default.createDirectory(
                atPath: folder + "/.build/data", withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Self.digits, toPath: folder + "/" + Self.digits)
        }
    }

    /// The digits CSV, relative to the package (and to a workspace).
    static let digits = ".build/data/digits.csv.gz"

    /// A fresh copy of the workspace.
    func copy() throws -> String {
        let copy = CLI.scratch()
        for name in FileSystem.list(folder) {
            try FileManager.default.copyItem(atPath: folder + "/" + name, toPath: copy + "/" + name)
        }
        return copy
    }

    private func write(_ graph: ModelGraph, _ name: String) throws {
        try Amalgam.builtInFormats.writer(for: folder + "/" + name).write(
            graph, to: folder + "/" + name, settings: OutputSettings())
    }

    /// An MLP 8-16-3 (GELU) with seeded weights.
    static func classifier(seed: UInt64) throws -> ModelGraph {
        var random = SeededRandom(seed: seed)
        var tensors: [Tensor] = []
        for (index, (inputs, outputs)) in zip([8, 16], [16, 3]).enumerated() {
            let scale = 1 / Float(inputs).squareRoot()
            tensors.append(
                Tensor(
                    name: "layers.\(2 * index).weight", shape: [outputs, inputs],
                    floats: (0..<(inputs * outputs)).map { _ in scale * random.nextSignedUnitFloat() }))
            tensors.append(
                Tensor(
                    name: "layers.\(2 * index).bias", shape: [outputs],
                    floats: (0..<outputs).map { _ in scale * random.nextSignedUnitFloat() }))
        }
        return try ModelGraph(tensors: tensors, metadata: Metadata(["amalgam.activation": .string("gelu")]))
    }

    /// `graph` with every floating-point tensor moved by seeded noise (a stand-in for a fine-tune).
    static func perturbed(_ graph: ModelGraph, seed: UInt64) throws -> ModelGraph {
        var random = SeededRandom(seed: seed)
        return try graph.mapTensors { tensor in
            guard tensor.encoding.dtype?.isFloatingPoint ?? true else { return tensor }
            return Tensor(
                name: tensor.name, shape: tensor.shape,
                floats: try tensor.floatValues().map { $0 + 0.1 * random.nextSignedUnitFloat() })
        }
    }

    /// `count` examples of 8 features with labels 0...2 from a fixed linear rule.
    static func data(count: Int, seed: UInt64) throws -> ModelGraph {
        var random = SeededRandom(seed: seed)
        var x: [Float] = []
        var y: [Int64] = []
        for _ in 0..<count {
            let features = (0..<8).map { _ in random.nextSignedUnitFloat() }
            let scores = [features[0] + features[1], features[2] - features[3], features[4] * 0.5 + features[7]]
            x += features
            y.append(Int64(scores.indices.max { scores[$0] < scores[$1] }!))
        }
        return try ModelGraph(tensors: [
            Tensor(name: "x", shape: [count, 8], floats: x),
            Tensor(
                name: "y", shape: [count], encoding: .plain(.i64),
                storage: .region(y.withUnsafeBytes { ByteRegion(copying: $0) })),
        ])
    }
}
