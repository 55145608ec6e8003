import Foundation
import PackagePlugin

/// `swift package --allow-writing-to-package-directory regenerate-onnx-bindings`
///
/// Runs `protoc-c` (Debian's protobuf-c-compiler) on `formats/onnx/onnx.proto` and puts
/// the generated `onnx.pb-c.c` in `formats/onnx/CONNXProto` and `onnx.pb-c.h` in its
/// `include/` folder, where the `CONNXProto` target expects them. The generated files are
/// checked in, so a normal build never needs protoc-c (build-tool plugins that generate C
/// do not work with SwiftPM's current build system; see PLATFORM.md).
@main
struct RegenerateONNXBindings: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        let onnx = context.package.directoryURL.appending(path: "formats/onnx")
        let target = onnx.appending(path: "CONNXProto")
        let scratch = context.pluginWorkDirectoryURL.appending(path: "protoc-c")
        try? FileManager.default.removeItem(at: scratch)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)

        let compiler = try context.tool(named: "protoc-c")
        let process = Process()
        process.executableURL = compiler.url
        process.currentDirectoryURL = onnx
        process.arguments = ["--c_out=\(scratch.path)", "-I\(onnx.path)", "onnx.proto"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            Diagnostics.error(
                "protoc-c exited with status \(process.terminationStatus); is protobuf-c-compiler installed?")
            return
        }
        let files = FileManager.default
        try files.createDirectory(at: target.appending(path: "include"), withIntermediateDirectories: true)
        for (name, destination) in [("onnx.pb-c.c", target), ("onnx.pb-c.h", target.appending(path: "include"))] {
            let output = destination.appending(path: name)
            try? files.removeItem(at: output)
            try files.copyItem(at: scratch.appending(path: name), to: output)
            print("wrote \(output.path)")
        }
    }
}
