import Amalgam

/// `amalgam run RECIPE.json`: a merge described in a file.
struct RunCommand: Command {
    static let name = "run"
    static let summary = "Run a merge recipe (JSON): base, sources, method, options, several outputs."
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
        var options = try Recipe.load(path)
        options.overwrite = force
        options.progress = TerminalProgress()
        options.warn = { Terminal.err("amalgam run: warning: \($0)") }
        try MergeCommand.execute(options, dryRun: dryRun)
    }
}
