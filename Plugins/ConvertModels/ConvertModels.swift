import Foundation
import PackagePlugin

/// `swift package --allow-writing-to-package-directory convert-models IN OUT [options]`
///
/// Builds the `amalgam` tool and runs `amalgam convert IN OUT [options]` inside the
/// package folder, so a package can convert the model files it ships (relative paths are
/// resolved against the package root).
@main
struct ConvertModels: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {
        guard arguments.count >= 2 else {
            Diagnostics.error("usage: swift package convert-models IN OUT [amalgam convert options]")
            return
        }
        let tool = try context.tool(named: "amalgam")
        let process = Process()
        process.executableURL = tool.url
        process.currentDirectoryURL = context.package.directoryURL
        process.arguments = ["convert"] + arguments
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            Diagnostics.error("amalgam convert exited with status \(process.terminationStatus)")
        }
    }
}
