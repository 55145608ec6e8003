import Foundation
import TestSupport
import Testing

@testable import Amalgam

/// Runs the built `amalgam` executable, as a user would.
struct CLI {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The executable beside the test bundle (both live in the build folder).
    static let executable: String = {
        let folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let candidate = folder + "/amalgam"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/amalgam").path
    }()

    static func run(_ arguments: String...) throws -> Result { try run(arguments: arguments) }

    static func scratch() -> String {
        let path = NSTemporaryDirectory() + "amalgam-cli-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func files(in folder: String) -> [String] { FileSystem.list(folder) }

    /// A small model written by the library, for the CLI to work on.
    static func model(in folder: String, name: String = "model.safetensors") throws -> String {
        let path = folder + "/" + name
        try Amalgam.builtInFormats.writer(named: "safetensors").write(
            try DemoModel.make(vocabulary: 32, hidden: 16, intermediate: 32, layers: 1), to: path,
            settings: OutputSettings())
        return path
    }
}

extension CLI {
    /// Runs the executable with `arguments` (in `folder` when given), waiting for it.
    static func run(arguments: [String], in folder: String? = nil) throws -> Result {
        try run(program: executable, arguments: arguments, in: folder)
    }

    /// An executable product of this package built beside the test bundle (`ReadmeExample`).
    static func product(_ name: String) -> String {
        URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Runs `program` with `arguments` (in `folder` when given), waiting for it.
    static func run(program: String, arguments: [String], in folder: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}
