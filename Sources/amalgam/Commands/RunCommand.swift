import Amalgam

/// `amalgam run RECIPE.json`: a merge described in a file.
struct RunCommand: Command {
    static let name = "run"
    static let summary =
        "Run a recipe (JSON or YAML) or a mergekit configuration: a merge with several outputs, optionally followed by tuning and its exports."
    static let positionals = ["RECIPE"]
    static let settings: [Setting] = [.runOutput, .dryRun, .force]
    static var discussion: String {
        """
        Every file of the merge and of the tuning stage appears together when the recipe
        succeeds, or none does.

        \(Recipe.schemaDescription)

        mergekit configurations (they name a merge_method) are read too, as mergekit-yaml reads
        them, with Amalgam's recipe keys mixed in: merge_method, base_model, models (model,
        parameters), parameters (values, layer gradients such as [0, 0.5, 1], name filters
        such as [{filter: self_attn, value: 0.3}, {value: 0.7}]), dtype, out_dtype,
        tokenizer_source: base. Methods: \(MergeMethods.mergekitOnlyNames.joined(separator: ", ")),
        task_arithmetic, ties.

        examples:
          amalgam run recipe.json --dry-run
          amalgam run mergekit.yml --output merged/
        """
    }

    let path: String
    let output: String?
    let dryRun: Bool
    let force: Bool

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        path = try arguments.positionals(Self.positionals)[0]
        output = arguments.values.text(.runOutput)
        dryRun = arguments.values.flag(.dryRun)
        force = arguments.values.flag(.force)
    }

    func run() throws {
        var recipe = try Recipe.load(path, output: output)
        recipe.merge.overwrite = force
        recipe.merge.progress = TerminalProgress()
        recipe.merge.warn = { Terminal.err("amalgam run: warning: \($0)") }
        recipe.tune?.overwrite = force
        recipe.tune?.progress = TerminalProgress()
        recipe.tune?.warn = recipe.merge.warn
        if dryRun {
            Terminal.out(MergeCommand.describe(try Amalgam.dryRun(recipe), options: recipe.merge))
            if let tune = recipe.tune {
                Terminal.out(
                    "then tune \(tune.model) on \(tune.data) (\(tune.setup.mode.rawValue), \(tune.setup.training.epochs) epochs) into \(tune.outputs.map(\.path).joined(separator: ", "))"
                )
            }
            return
        }
        let start = Terminal.now()
        let outcome = try Amalgam.run(recipe)
        Terminal.out(MergeCommand.summary(outcome.merge, options: recipe.merge, seconds: Terminal.now() - start))
        if let tuned = outcome.tune {
            var report = tuned
            report.files = []
            TrainCommand.report(report, command: "tuned")
        }
        for file in outcome.files { Terminal.out("  wrote \(file)") }
    }
}
