import Foundation
import Testing

@testable import Amalgam

/// Every `amalgam` command in the README's shell blocks runs as written, in a folder holding
/// the files it names.
struct ReadmeExamplesTests {
    static let readme: String = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return (try? String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)) ?? ""
    }()

    /// The `amalgam ...` lines of the README's ```sh blocks, each run on its own, but those of a
    /// block that starts with `# in order, in one folder`, which run one after another.
    static var examples: [[String]] {
        var found: [[String]] = []
        var inShell = false
        var sequence: [String]?
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inShell = line == "```sh" && !inShell
                if let steps = sequence { found.append(steps) }
                sequence = nil
                continue
            }
            guard inShell else { continue }
            if line == "# in order, in one folder" { sequence = [] }
            guard line.hasPrefix("amalgam ") else { continue }
            if sequence != nil { sequence!.append(String(line)) } else { found.append([String(line)]) }
        }
        return found
    }

    /// The README's first ```swift block: the library example.
    static var libraryExample: String? {
        guard let start = readme.range(of: "```swift\n"),
            let end = readme.range(of: "\n```", range: start.upperBound..<readme.endIndex)
        else { return nil }
        return String(readme[start.upperBound..<end.lowerBound])
    }

    @Test("the README's library example is Examples/ReadmeExample, which the build compiled; it runs")
    func libraryExampleRuns() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let source = try String(
            contentsOf: root.appendingPathComponent("Examples/ReadmeExample/main.swift"), encoding: .utf8)
        let example = try #require(Self.libraryExample)
        #expect(example + "\n" == source)
        #expect(example.split(separator: "\n").count <= 12)  // the import, a blank line and ten lines
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try CLI.run(program: CLI.product("ReadmeExample"), arguments: [], in: folder)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 2 && lines[0].contains("merged.safetensors") && lines[0].contains("factors.safetensors"))
        for file in [
            "merged.safetensors", "factors.safetensors", "tuned.safetensors", "tuned.gguf",
            "tuned.safetensors.log.json",
        ] {
            #expect(FileManager.default.fileExists(atPath: folder + "/" + file), "\(file)")
        }
    }

    @Test("the README's command examples run")
    func examplesRun() throws {
        #expect(Self.examples.count >= 7)
        for steps in Self.examples {
            let folder = try Workspace.shared.get().copy()
            defer { try? FileManager.default.removeItem(atPath: folder) }
            for example in steps {
                let words = example.split(separator: "#")[0].split(separator: " ").map(String.init).dropFirst()
                let result = try CLI.run(arguments: Array(words), in: folder)
                #expect(result.status == 0, "\(example): \(result.stderr)")
            }
        }
    }
}
