import Foundation
import Testing

@testable import Amalgam

struct PipelineTests {
    @Test("a conversion that fails midway leaves no file at the target and no temporaries")
    func failureMidway() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var tensors = (0..<3).map { Tensor(name: "t\($0)", shape: [4], floats: [1, 2, 3, 4]) }
        tensors.insert(
            Tensor(
                name: "broken", shape: [4], encoding: .plain(.f32),
                storage: .deferred {
                    throw AmalgamError(.io, "simulated read failure")
                }), at: 2)
        let graph = try ModelGraph(tensors: tensors)
        for limit in [nil, 20] as [Int?] {
            do {
                try Amalgam.builtInFormats.writer(named: "safetensors").write(
                    graph, to: folder + "/out.safetensors", settings: OutputSettings(maximumShardBytes: limit))
                Issue.record("write succeeded")
            } catch let error as AmalgamError {
                #expect(error.description.contains("tensor 'broken': simulated read failure"))
            }
            #expect(CLI.files(in: folder).isEmpty, "left behind: \(CLI.files(in: folder))")
        }
    }

    @Test("registry: magic bytes beat the extension; --from/--to win; unknown names are usage errors")
    func registry() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let disguised = try CLI.model(in: folder, name: "weights.bin")
        #expect(try Amalgam.builtInFormats.reader(for: disguised).identifier == "safetensors")
        #expect(
            try Amalgam.builtInFormats.writer(for: folder + "/x.bin", explicit: "safetensors").identifier
                == "safetensors")
        #expect(
            try Amalgam.builtInFormats.writer(for: folder + "/x.safetensors.index.json").identifier
                == "safetensors")
        #expect(throws: AmalgamError.self) { try Amalgam.builtInFormats.writer(for: folder + "/x.bin") }
        do {
            _ = try Amalgam.builtInFormats.plugin(named: "pickle")
            Issue.record("found pickle")
        } catch {
            #expect(
                error.code == .usage
                    && error.message == "unknown format 'pickle' (known: safetensors, gguf, pytorch, npz, npy, onnx)")
        }
    }

    @Test("convert keeps every value of integer tensors and converts floats exactly as the scalar functions")
    func dtypeConversion() throws {
        let folder = CLI.scratch()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let input = try CLI.model(in: folder)
        _ = try Amalgam.convert(input, to: folder + "/bf16.safetensors", dtype: .bf16)
        let original = try InspectionReport(path: input).graph
        let converted = try InspectionReport(path: folder + "/bf16.safetensors").graph
        for tensor in original.tensors {
            let copy = try #require(converted[tensor.name])
            if tensor.encoding == .plain(.i64) {
                #expect(try copy.loadBytes().bytes == tensor.loadBytes().bytes)
                continue
            }
            #expect(copy.encoding == .plain(.bf16))
            let expected = try tensor.floatValues().map { FloatBits.float(fromBF16: FloatBits.bf16(from: $0)) }
            #expect(try copy.floatValues() == expected)
        }
    }
}
