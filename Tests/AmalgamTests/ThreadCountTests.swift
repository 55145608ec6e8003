import Foundation
import Testing

@testable import Amalgam

/// Output bytes do not depend on the thread count: work is cut the same way for every count.
struct ThreadCountTests {
    static let counts = ["1", "2", "3", "8"]

    static func bytes(_ paths: [String]) throws -> [Data] {
        try paths.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
    }

    @Test(
        "merge with 1, 2, 3 and 8 threads: identical model and factors",
        arguments: ["axis", "ties", "task_arithmetic", "dare", "tsv", "average"])
    func merge(method: String) throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var results: [[Data]] = []
        for threads in Self.counts {
            // The same names every run (the factors' metadata names the merged model's path).
            let (out, factors) = (folder + "/m.safetensors", folder + "/f.safetensors")
            var words = [
                "merge", "--base", "base.safetensors", "--source", "a.safetensors", "--source", "b.npz", "--method",
                method, "--seed", "7", "--threads", threads, "--output", out,
            ]
            if method == "axis" || method == "tsv" { words += ["--factors", factors] }
            let result = try CLI.run(arguments: words, in: folder)
            #expect(result.status == 0, "\(result.stderr)")
            results.append(try Self.bytes([out] + (words.contains("--factors") ? [factors] : [])))
            for file in [out, factors] { try? FileManager.default.removeItem(atPath: file) }
        }
        #expect(results.allSatisfy { $0 == results[0] })
    }

    @Test("one large matrix (the threads go to BLAS inside its SVDs): identical bytes", arguments: ["axis", "tsv"])
    func mergeOneMatrix(method: String) throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var random = SeededRandom(seed: 3)
        func matrix(_ scale: Float, base: [Float]? = nil) -> [Float] {
            (0..<(384 * 512)).map { (base?[$0] ?? 0) + scale * random.nextSignedUnitFloat() }
        }
        let w0 = matrix(1)
        for (name, values) in [("w0", w0), ("w1", matrix(0.05, base: w0)), ("w2", matrix(0.05, base: w0))] {
            try Amalgam.builtInFormats.writer(named: "safetensors").write(
                try ModelGraph(tensors: [Tensor(name: "layers.0.weight", shape: [384, 512], floats: values)]),
                to: folder + "/\(name).safetensors", settings: OutputSettings())
        }
        var results: [Data] = []
        for threads in Self.counts {
            let result = try CLI.run(
                arguments: [
                    "merge", "--base", "w0.safetensors", "--source", "w1.safetensors", "--source", "w2.safetensors",
                    "--method", method, "--threads", threads, "--output", "m.safetensors", "--factors", "f.safetensors",
                    "--force",
                ], in: folder)
            #expect(result.status == 0, "\(result.stderr)")
            results += try Self.bytes([folder + "/m.safetensors", folder + "/f.safetensors"])
        }
        #expect(results.enumerated().allSatisfy { $0.element == results[$0.offset % 2] })
    }

    @Test("tune and train with 1, 2, 3 and 8 threads: identical trained weights")
    func tune() throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var tuned: [Data] = []
        var trained: [Data] = []
        for threads in Self.counts {
            let stageTwo = try CLI.run(
                arguments: [
                    "tune", "--base", "classifier-base.safetensors", "--factors", "classifier-factors.safetensors",
                    "--merged", "classifier-merged.safetensors", "--data", "train.npz", "--epochs", "2", "--batch",
                    "16",
                    "--threads", threads, "--output", "tuned\(threads).safetensors",
                ], in: folder)
            #expect(stageTwo.status == 0, "\(stageTwo.stderr)")
            let full = try CLI.run(
                arguments: [
                    "train", "classifier-base.safetensors", "--data", "train.npz", "--epochs", "2", "--batch", "16",
                    "--threads", threads, "--output", "trained\(threads).safetensors",
                ], in: folder)
            #expect(full.status == 0, "\(full.stderr)")
            tuned += try Self.bytes([folder + "/tuned\(threads).safetensors"])
            trained += try Self.bytes([folder + "/trained\(threads).safetensors"])
        }
        #expect(tuned.allSatisfy { $0 == tuned[0] } && trained.allSatisfy { $0 == trained[0] })
    }

    @Test(
        "training with BLAS-sized matrices (an MLP 784-256-256, batch 64) with 1, 2, 3 and 8 threads: identical bytes",
        arguments: ["full", "sv"])
    func trainLarge(mode: String) throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var random = SeededRandom(seed: 9)
        func uniform(_ count: Int, _ scale: Float) -> [Float] {
            (0..<count).map { _ in scale * random.nextSignedUnitFloat() }
        }
        let model = try ModelGraph(tensors: [
            Tensor(name: "layers.0.weight", shape: [256, 784], floats: uniform(256 * 784, 0.035)),
            Tensor(name: "layers.0.bias", shape: [256], floats: uniform(256, 0.07)),
            Tensor(name: "layers.2.weight", shape: [256, 256], floats: uniform(256 * 256, 0.06)),
            Tensor(name: "layers.2.bias", shape: [256], floats: uniform(256, 0.06)),
        ])
        let data = try ModelGraph(tensors: [
            Tensor(name: "x", shape: [320, 784], floats: uniform(320 * 784, 1)),
            Tensor(name: "y", shape: [320], integers: (0..<320).map { Int64($0 % 5) }),
        ])
        let writer = try Amalgam.builtInFormats.writer(named: "safetensors")
        try writer.write(model, to: folder + "/wide.safetensors", settings: OutputSettings())
        try Amalgam.builtInFormats.writer(named: "npz").write(
            data, to: folder + "/wide.npz", settings: OutputSettings())
        var outputs: [Data] = []
        for threads in Self.counts {
            var words = [
                "train", "wide.safetensors", "--data", "wide.npz", "--epochs", "2", "--batch", "64", "--threads",
                threads,
                "--output", "wide-\(threads).safetensors",
            ]
            if mode == "sv" {
                words = [
                    "tune", "--subspace", "base", "--base", "wide.safetensors", "--data", "wide.npz", "--epochs", "2",
                    "--batch", "64", "--sv-fraction", "0.2", "--threads", threads, "--output",
                    "wide-\(threads).safetensors",
                ]
            }
            let result = try CLI.run(arguments: words, in: folder)
            #expect(result.status == 0, "\(result.stderr)")
            outputs += try Self.bytes([folder + "/wide-\(threads).safetensors"])
        }
        #expect(outputs.allSatisfy { $0 == outputs[0] })
    }

    @Test("quantised conversion with 1, 2, 3 and 8 threads: identical files", arguments: ["q8_0", "q4_k", "q6_k"])
    func quantise(type: String) throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // A model big enough that encoding and decoding run in several chunks.
        let large = try ModelGraph(tensors: [
            Tensor(
                name: "w", shape: [512, 1024],
                floats: (0..<(512 * 1024)).map { Float(($0 * 7919) % 2003) / 1001 - 1 })
        ])
        try Amalgam.builtInFormats.writer(named: "safetensors").write(
            large, to: folder + "/large.safetensors", settings: OutputSettings())
        var files: [Data] = []
        for threads in Self.counts {
            let out = folder + "/large-\(threads).gguf"
            let result = try CLI.run(
                arguments: [
                    "convert", "large.safetensors", out, "--quant", type, "--threads", threads, "--arch", "llama",
                ],
                in: folder)
            #expect(result.status == 0, "\(result.stderr)")
            let back = try CLI.run(
                arguments: ["convert", out, folder + "/back-\(threads).npz", "--dtype", "f32", "--threads", threads],
                in: folder)
            #expect(back.status == 0, "\(back.stderr)")
            files += try Self.bytes([out, folder + "/back-\(threads).npz"])
        }
        #expect(files.enumerated().allSatisfy { $0.element == files[$0.offset % 2] })
    }
}
