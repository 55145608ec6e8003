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

    /// The `amalgam ...` lines of the README's ```sh blocks.
    static var examples: [String] {
        var found: [String] = []
        var inShell = false
        for line in readme.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inShell = line == "```sh" && !inShell
                continue
            }
            if inShell, line.hasPrefix("amalgam ") { found.append(String(line)) }
        }
        return found
    }

    @Test("the README's command examples run")
    func examplesRun() throws {
        #expect(Self.examples.count >= 7)
        for example in Self.examples {
            let folder = try Workspace.shared.get().copy()
            let words = example.split(separator: "#")[0].split(separator: " ").map(String.init).dropFirst()
            let result = try CLI.run(arguments: Array(words), in: folder)
            #expect(result.status == 0, "\(example): \(result.stderr)")
        }
    }
}
