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

    @Test("quantised conversion with 1, 2, 3 and 8 threads: identical files", arguments: ["q8_0", "q4_k", "q6_k"])
    func quantise(type: String) throws {
        let folder = try Workspace.shared.get().copy()
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
