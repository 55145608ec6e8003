import Foundation
import Testing

@testable import Amalgam

/// A command's files appear together or not at all: the outputs of a merge, its factors and
/// report, and a recipe's tuning outputs and log.
struct OutputSetCommandTests {
    /// The folder's file names, recursively, for "nothing changed" checks.
    static func tree(_ folder: String) -> [String] {
        (FileManager.default.subpaths(atPath: folder) ?? []).sorted()
    }

    @Test("a merge whose second output fails (template mismatch) or whose tensors fail midway writes nothing")
    func mergeFailures() throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let before = Self.tree(folder)
        // An ONNX template whose final norm has another shape: refused before any work.
        let template = try InspectionReport(path: folder + "/base.safetensors").graph.mapTensors { tensor in
            tensor.name == "model.norm.weight"
                ? Tensor(name: tensor.name, shape: [8], floats: .init(repeating: 1, count: 8)) : tensor
        }
        try Amalgam.builtInFormats.writer(named: "onnx").write(
            template, to: folder + "/other.onnx", settings: OutputSettings())
        let recipes: [(String, String)] = [
            (
                #"{"base": "base.safetensors", "sources": ["a.safetensors", "b.npz"], "options": {"k": 2}, "outputs": [{"path": "m.safetensors"}, {"path": "m.onnx", "template": "other.onnx"}], "factors": "f.safetensors", "report": "r.json"}"#,
                "the template '\(folder)/other.onnx' has [8] for 'model.norm.weight'"
            ),
            (
                #"{"base": "base.safetensors", "sources": ["a.safetensors", "bad.safetensors"], "options": {"k": 2}, "outputs": [{"path": "m.safetensors"}, {"path": "new/deeper/m.npz"}], "factors": "f.safetensors", "report": "r.json"}"#,
                "merges need finite values"
            ),
        ]
        // A source with a NaN in its last tensor: found while the merge is being written.
        let workspaceBase = try InspectionReport(path: folder + "/base.safetensors").graph
        let bad = try workspaceBase.mapTensors { tensor in
            guard tensor.name == "lm_head.weight" else { return tensor }
            var values = try tensor.floatValues()
            values[3] = .nan
            return Tensor(name: tensor.name, shape: tensor.shape, floats: values)
        }
        try Amalgam.builtInFormats.writer(named: "safetensors").write(
            bad, to: folder + "/bad.safetensors", settings: OutputSettings())
        let prepared = Self.tree(folder)
        #expect(prepared == (before + ["bad.safetensors", "other.onnx"]).sorted())
        for (recipe, message) in recipes {
            try recipe.write(toFile: folder + "/recipe.json", atomically: true, encoding: .utf8)
            let result = try CLI.run("run", folder + "/recipe.json")
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(Self.tree(folder) == prepared, "left behind: \(Set(Self.tree(folder)).subtracting(prepared))")
        }
    }

    @Test("a recipe whose tuning stage fails leaves none of the merge's files either")
    func recipeTuneFailure() throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Labels beyond the model's head and a fixed label count: refused after the merge ran.
        try Amalgam.builtInFormats.writer(named: "npz").write(
            try Workspace.data(count: 20, seed: 9).mapTensors { tensor in
                guard tensor.name == "y" else { return tensor }
                let labels = (0..<20).map { Int64($0 % 5) }
                return Tensor(
                    name: "y", shape: [20], encoding: .plain(.i64),
                    storage: .region(labels.withUnsafeBytes { ByteRegion(copying: $0) }))
            }, to: folder + "/five.npz", settings: OutputSettings())
        let prepared = Self.tree(folder)
        try #"""
        {"base": "classifier-base.safetensors", "sources": ["classifier-a.safetensors", "classifier-b.safetensors"],
         "options": {"k": 4}, "outputs": [{"path": "merged.safetensors"}], "factors": "factors.safetensors",
         "tune": {"data": "five.npz", "labels": 3, "epochs": 1, "outputs": [{"path": "tuned/model.safetensors"}]}}
        """#.write(toFile: folder + "/recipe.json", atomically: true, encoding: .utf8)
        let result = try CLI.run("run", folder + "/recipe.json")
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("five.npz"), "\(result.stderr)")
        #expect(Self.tree(folder) == prepared, "left behind: \(Set(Self.tree(folder)).subtracting(prepared))")
    }
}
