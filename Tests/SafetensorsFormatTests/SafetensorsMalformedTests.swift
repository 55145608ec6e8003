import AmalgamCore
import TestSupport
import Testing

@testable import SafetensorsFormat

#if canImport(Glibc)
    import Glibc
#endif

/// Malformed files: each must fail with `.invalidFormat`/`.unsupported`/`.overflow` and a
/// message naming the problem.
struct SafetensorsMalformedTests {
    @Test("malformed safetensors files are refused precisely", arguments: MalformedSafetensors.cases)
    func refused(_ testCase: MalformedSafetensors.Case) throws {
        let path = Scratch.folder() + "/bad.safetensors"
        Scratch.write(testCase.bytes, to: path)
        do {
            _ = try SafetensorsPlugin().read(path, options: ReadOptions())
            Issue.record("accepted: \(testCase.label)")
        } catch let error as AmalgamError {
            #expect(error.description.contains(testCase.message), "\(error)")
            #expect(error.context.file == path)
            #expect([.invalidFormat, .unsupported, .overflow].contains(error.code))
        }
    }

    @Test("sharded index errors: traversal, missing shard, unlisted and misplaced tensors")
    func badIndex() throws {
        let folder = Scratch.folder()
        let graph = try ModelGraph(tensors: [
            Tensor(name: "a", shape: [1], floats: [1]), Tensor(name: "b", shape: [1], floats: [2]),
        ])
        try SafetensorsPlugin().write(graph, to: folder + "/s.safetensors")
        let cases: [(String, String)] = [
            (#"{"weight_map":{"a":"../s.safetensors"}}"#, "which is not a plain file name"),
            (#"{"weight_map":{"a":"missing.safetensors"}}"#, "which does not exist"),
            (
                #"{"weight_map":{"a":"s.safetensors"}}"#,
                "tensor 'b': shard holds this tensor but the index does not list it"
            ),
            (
                #"{"weight_map":{"a":"s.safetensors","b":"s.safetensors","c":"s.safetensors"}}"#,
                "tensor 'c': index lists this tensor in 's.safetensors', but the shard lacks it"
            ),
            (#"{"metadata":{}}"#, "index has no \"weight_map\" object"),
        ]
        for (index, (json, message)) in cases.enumerated() {
            let path = folder + "/case\(index).safetensors.index.json"
            Scratch.write(Array(json.utf8), to: path)
            do {
                _ = try SafetensorsPlugin().read(path, options: ReadOptions())
                Issue.record("accepted index \(json)")
            } catch let error as AmalgamError {
                #expect(error.description.contains(message), "\(error)")
            }
        }
    }
}
