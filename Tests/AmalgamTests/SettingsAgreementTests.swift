import Foundation
import Testing

@testable import Amalgam

/// Every setting a merge, its outputs and a tuning stage take, given once on the command line
/// and once in a recipe, with a valid and an invalid value: the same outcome and the same
/// message (the setting named as the user wrote it: `--k` there, `options.k` here).
struct SettingsAgreementTests {
    enum Place: String, Sendable { case top, options, output, tune }

    struct Row: Sendable, CustomTestStringConvertible {
        let setting: Setting
        let place: Place
        /// The value (nil for a flag), and extra command-line words / recipe members it needs.
        let valid: String?
        let invalid: String?
        var output = "m.safetensors"
        var invalidOutput: String?
        var method: String?
        var invalidMethod: String?
        var testDescription: String { "\(place.rawValue).\(setting.recipeKey)" }
    }

    static let rows: [Row] = [
        Row(setting: .method, place: .top, valid: "ties", invalid: "frankenmerge"),
        Row(setting: .seed, place: .top, valid: "3", invalid: "-1"),
        Row(setting: .threads, place: .top, valid: "2", invalid: "0"),
        Row(setting: .skip, place: .top, valid: "*.mlp.*", invalid: "*.mlp.*", invalidMethod: "ties"),
        Row(setting: .allowMissing, place: .top, valid: nil, invalid: nil),
        Row(setting: .leaveOut, place: .top, valid: "*.bias", invalid: nil),
        Row(setting: .k, place: .options, valid: "3", invalid: "0"),
        Row(setting: .kFraction, place: .options, valid: "0.2", invalid: "2"),
        Row(setting: .exactSVD, place: .options, valid: nil, invalid: nil, invalidMethod: "ties"),
        Row(setting: .lambda, place: .options, valid: "0.5", invalid: "1000", method: "ties"),
        Row(setting: .density, place: .options, valid: "0.5", invalid: "0", method: "ties"),
        Row(setting: .drop, place: .options, valid: "0.5", invalid: "1", method: "dare"),
        Row(setting: .dareTies, place: .options, valid: nil, invalid: nil, method: "dare", invalidMethod: "axis"),
        Row(setting: .dtype, place: .output, valid: "f16", invalid: "f8"),
        Row(setting: .maximumShardSize, place: .output, valid: "1MB", invalid: "10"),
        Row(setting: .quant, place: .output, valid: "q8_0", invalid: "q9", output: "m.gguf"),
        Row(setting: .importanceMatrix, place: .output, valid: nil, invalid: "i.dat", output: "m.gguf"),
        Row(setting: .compress, place: .output, valid: nil, invalid: nil, output: "m.npz", invalidOutput: "m.gguf"),
        Row(setting: .keepDType, place: .output, valid: nil, invalid: nil, output: "m.npz", invalidOutput: "m.onnx"),
        Row(
            setting: .template, place: .output, valid: "base.onnx", invalid: "base.onnx", output: "m.onnx",
            invalidOutput: "m.npz"),
        Row(
            setting: .externalData, place: .output, valid: nil, invalid: nil, output: "m.onnx",
            invalidOutput: "m.safetensors"),
        Row(setting: .to, place: .output, valid: "npz", invalid: "pickle", output: "m.out"),
        Row(setting: .tuneMode, place: .tune, valid: "head", invalid: "xx"),
        Row(setting: .svFraction, place: .tune, valid: "0.5", invalid: "2"),
        Row(setting: .svCount, place: .tune, valid: "2", invalid: "0"),
        Row(setting: .svInit, place: .tune, valid: "merged", invalid: "one"),
        Row(setting: .epochs, place: .tune, valid: "2", invalid: "-1"),
        Row(setting: .learningRate, place: .tune, valid: "0.05", invalid: "20"),
        Row(setting: .headLearningRate, place: .tune, valid: "0.02", invalid: "20"),
        Row(setting: .subspace, place: .tune, valid: "merge", invalid: "svd"),
        Row(setting: .batch, place: .tune, valid: "16", invalid: "0"),
        Row(setting: .seed, place: .tune, valid: "2", invalid: "x"),
        Row(setting: .weightDecay, place: .tune, valid: "0.01", invalid: "2"),
        Row(setting: .clip, place: .tune, valid: "0.5", invalid: "0"),
        Row(setting: .earlyStopping, place: .tune, valid: "1", invalid: "0"),
        Row(setting: .architecture, place: .tune, valid: "mlp", invalid: "cnn"),
        Row(setting: .activation, place: .tune, valid: "relu", invalid: "swish"),
        // heads and pooling are for transformers: on this MLP both values are refused.
        Row(setting: .heads, place: .tune, valid: nil, invalid: "2"),
        Row(setting: .pooling, place: .tune, valid: nil, invalid: "max"),
        Row(setting: .labels, place: .tune, valid: "3", invalid: "1"),
        Row(setting: .eval, place: .tune, valid: "test.npz", invalid: "missing.npz"),
        Row(setting: .log, place: .tune, valid: "t.json", invalid: nil),
    ]

    /// The line a failed command printed, without the command's name, the help hint, the
    /// folder and the recipe's name, with the setting's label replaced: what both must share.
    static func normalized(_ stderr: String, folder: String, labels: [String]) -> String {
        // The error line: warnings (a recipe's merge may have some) are not part of it.
        var line =
            stderr.split(separator: "\n").last { !$0.contains(": warning: ") }.map(String.init) ?? ""
        for prefix in ["amalgam merge: ", "amalgam tune: ", "amalgam run: "] where line.hasPrefix(prefix) {
            line.removeFirst(prefix.count)
        }
        if let hint = line.range(of: "; see 'amalgam ") { line = String(line[..<hint.lowerBound]) }
        line = line.replacingOccurrences(of: folder + "/", with: "")
        if line.hasPrefix("recipe.json: ") { line.removeFirst("recipe.json: ".count) }
        for label in labels { line = line.replacingOccurrences(of: label, with: "<setting>") }
        return line
    }

    /// The JSON text of a value for `setting`: numbers bare, the rest quoted, flags true.
    static func json(_ value: String?, for setting: Setting) -> String {
        guard let value else { return "true" }
        if setting.repeatable { return "[\"\(value)\"]" }
        switch setting.kind {
        case .integer, .real, .seed: return Double(value) != nil ? value : "\"\(value)\""
        default: return "\"\(value)\""
        }
    }

    @Test("a setting given on the command line and in a recipe: same outcome, same message", arguments: rows)
    func agreement(_ row: Row) throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        _ = try Amalgam.convert(folder + "/base.safetensors", to: folder + "/base.onnx")
        for (valid, value) in [(true, row.valid), (false, row.invalid)] {
            if !valid && row.invalid == nil && row.invalidOutput == nil && row.invalidMethod == nil { continue }
            if valid && row.valid == nil && row.setting.kind != .flag { continue }
            let output = (valid ? nil : row.invalidOutput) ?? row.output
            let method = (valid ? nil : row.invalidMethod) ?? row.method
            let flag = row.setting.kind == .flag
            // The command line.
            var words: [String]
            if row.place == .tune {
                words = [
                    "tune", "--base", "classifier-base.safetensors", "--factors", "classifier-factors.safetensors",
                    "--merged", "classifier-merged.safetensors", "--data", "train.npz", "--output", "tuned.safetensors",
                    "--force",
                ]
                if row.setting != .epochs { words += ["--epochs", "1"] }
            } else {
                words = [
                    "merge", "--base", "base.safetensors", "--source", "a.safetensors", "--source", "b.npz", "--output",
                    output, "--dry-run",
                ]
                if let method { words += ["--method", method] }
            }
            words.append("--" + row.setting.name)
            if !flag { words.append(value ?? "") }
            let cli = try CLI.run(arguments: words, in: folder)
            // The recipe.
            let member = "\"\(row.setting.recipeKey)\": " + Self.json(flag ? nil : value, for: row.setting)
            let recipe: String
            if row.place == .tune {
                let epochs = row.setting == .epochs ? "" : "\"epochs\": 1, "
                recipe = """
                    {"base": "classifier-base.safetensors", "sources": ["classifier-a.safetensors", "classifier-b.safetensors"],
                     "options": {"k": 4}, "outputs": [{"path": "classifier-merged.safetensors"}], "factors": "f2.safetensors",
                     "tune": {"data": "train.npz", \(epochs)"outputs": [{"path": "tuned.safetensors"}], \(member)}}
                    """
            } else {
                let methodMember = method.map { "\"method\": \"\($0)\", " } ?? ""
                let top = row.place == .top ? ", " + member : ""
                let options = row.place == .options ? ", \"options\": {\(member)}" : ""
                let outputMember = row.place == .output ? ", " + member : ""
                recipe = """
                    {\(methodMember)"base": "base.safetensors", "sources": ["a.safetensors", "b.npz"],
                     "outputs": [{"path": "\(output)"\(outputMember)}]\(options)\(top)}
                    """
            }
            try recipe.write(toFile: folder + "/recipe.json", atomically: true, encoding: .utf8)
            let run = try CLI.run(
                arguments: ["run", "recipe.json", "--force"] + (row.place == .tune ? [] : ["--dry-run"]), in: folder)
            let context = "\(row.testDescription) \(valid ? "valid" : "invalid") value \(value ?? "flag")"
            #expect(cli.status == run.status, "\(context): \(cli.stderr) | \(run.stderr)")
            #expect((cli.status == 0) == valid, "\(context): \(cli.stderr)")
            if !valid {
                let labels = [
                    "--" + row.setting.name,
                    row.place == .top ? row.setting.recipeKey : nil,
                    row.place == .options ? "options." + row.setting.recipeKey : nil,
                    row.place == .output ? "outputs[0]." + row.setting.recipeKey : nil,
                    row.place == .tune ? "tune." + row.setting.recipeKey : nil,
                ].compactMap { $0 }.sorted { $0.count > $1.count }
                #expect(
                    Self.normalized(cli.stderr, folder: folder, labels: labels)
                        == Self.normalized(run.stderr, folder: folder, labels: labels), "\(context)")
            }
        }
    }

    @Test("values a recipe can give wrongly that the command line cannot: wrong JSON types")
    func recipeTypes() throws {
        let folder = try Workspace.shared.get().copy()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cases: [(String, String)] = [
            (
                #""sources": ["a.safetensors"], "allow_missing": "yes""#,
                "allow_missing must be true or false, not 'yes'"
            ),
            (#""sources": ["a.safetensors"], "seed": true"#, "seed must be a non-negative whole number, not true"),
            (#""sources": "a.safetensors""#, "'sources' must be an array, not a string"),
        ]
        for (members, message) in cases {
            let recipe = #"{"base": "base.safetensors", "outputs": [{"path": "m.safetensors"}], "#
            try (recipe + members + "}").write(toFile: folder + "/recipe.json", atomically: true, encoding: .utf8)
            let result = try CLI.run(arguments: ["run", "recipe.json", "--dry-run"], in: folder)
            #expect(result.status == 64)
            #expect(result.stderr == "amalgam run: recipe.json: \(message); see 'amalgam run --help'\n")
        }
    }
}
