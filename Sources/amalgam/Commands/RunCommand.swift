import Amalgam

/// `amalgam run RECIPE.json`: a merge described in a file.
struct RunCommand: Command {
    static let name = "run"
    static let summary =
        "Run a recipe (JSON): a merge with several outputs, optionally followed by tuning and its exports."
    static let synopsis = "amalgam run RECIPE.json [--dry-run] [--force]"
    static let options: [OptionSpec] = [
        .flag("dry-run", "Check the inputs and print the plan; compute nothing."),
        .flag("force", "Overwrite existing outputs (inputs are never overwritten)."),
    ]
    static let discussion = "The recipe schema is documented in README.md (section Recipes)."

    let path: String
    let dryRun: Bool
    let force: Bool

    init(_ arguments: ParsedArguments) throws(UsageError) {
        path = try arguments.positionals("RECIPE")[0]
        dryRun = arguments.flag("dry-run")
        force = arguments.flag("force")
    }

    func run() throws {
        let plan = try Recipe.load(path)
        var options = plan.merge
        options.overwrite = force
        options.progress = TerminalProgress()
        options.warn = { Terminal.err("amalgam run: warning: \($0)") }
        if var tune = plan.tune {
            // Check the tuning stage's outputs before the merge does any work.
            let check = OutputTransaction(overwrite: force)
            for target in tune.outputs.map(\.path) + [tune.logPath].compactMap({ $0 }) { try check.checkTarget(target) }
            try MergeCommand.execute(options, dryRun: dryRun)
            if dryRun {
                Terminal.out(
                    "then tune \(tune.model) on \(tune.data) (\(tune.setup.mode.rawValue), \(tune.setup.training.epochs) epochs) into \(tune.outputs.map(\.path).joined(separator: ", "))"
                )
                return
            }
            tune.overwrite = force
            tune.progress = TerminalProgress()
            tune.warn = { Terminal.err("amalgam run: warning: \($0)") }
            TrainingArguments.report(try Amalgam.tune(tune), command: "tuned")
        } else {
            try MergeCommand.execute(options, dryRun: dryRun)
        }
    }
}
