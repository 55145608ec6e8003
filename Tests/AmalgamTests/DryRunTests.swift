import Foundation
import Testing

@testable import Amalgam

/// A dry run checks the outputs as the real run would (issue 21, item 5).
struct DryRunTests {
    static let merge = ["merge", "--base", "base.safetensors", "--source", "a.safetensors", "--source", "b.npz"]

    @Test("dry runs refuse what the real run refuses, and list the files a folder output gets")
    func outputsChecked() throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let quant = try CLI.run(
            arguments: Self.merge + ["--output", "m.safetensors", "--quant", "q8_0", "--dry-run"], in: folder)
        #expect(quant.status == 64)
        #expect(
            quant.stderr == "amalgam merge: --quant does not apply to safetensors output; see 'amalgam merge --help'\n")
        FileManager.default.createFile(atPath: folder + "/exists.safetensors", contents: Data([1]))
        let exists = try CLI.run(arguments: Self.merge + ["--output", "exists.safetensors", "--dry-run"], in: folder)
        #expect(
            exists.status == 1
                && exists.stderr.contains("exists.safetensors: output exists; pass --force to overwrite it"))
        let folderOutput = try CLI.run(
            arguments: Self.merge + ["--output", "out/", "--dry-run", "--factors", "f.safetensors"], in: folder)
        #expect(folderOutput.status == 0, "\(folderOutput.stderr)")
        #expect(folderOutput.stdout.contains("  writes:  out/model.safetensors"))
        #expect(folderOutput.stdout.contains("  writes:  f.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/out"))
        // A recipe's tuning outputs too.
        FileManager.default.createFile(atPath: folder + "/tuned.safetensors", contents: Data([1]))
        try #"""
        {"base": "classifier-base.safetensors", "sources": ["classifier-a.safetensors", "classifier-b.safetensors"],
         "outputs": [{"path": "m.safetensors"}], "factors": "f.safetensors",
         "tune": {"data": "train.npz", "outputs": [{"path": "tuned.safetensors"}]}}
        """#.write(toFile: folder + "/tune.json", atomically: true, encoding: .utf8)
        let tune = try CLI.run(arguments: ["run", "tune.json", "--dry-run"], in: folder)
        #expect(tune.status == 1 && tune.stderr.contains("tuned.safetensors: output exists"), "\(tune.stderr)")
    }
}
