/// What a recipe did.
public struct RecipeOutcome: Sendable {
    public var merge: MergeOutcome
    public var tune: TuneOutcome?
    /// Every file written, in order.
    public var files: [String]
}

extension Amalgam {
    /// Runs a recipe: the merge, then its tuning stage on the merged model and factors (handed
    /// on in memory), every file of both committed together at the end or none.
    public static func run(_ recipe: RecipePlan, registry: FormatRegistry = Amalgam.builtInFormats) throws
        -> RecipeOutcome
    {
        let merge = recipe.merge
        var inputs = [merge.base] + merge.sources
        if let tune = recipe.tune { inputs += [tune.data, tune.eval].compactMap { $0 } }
        let outputs = OutputSet(overwrite: merge.overwrite, protecting: identities(of: inputs), warn: merge.warn)
        if let tune = recipe.tune { try precheck(tune, outputs: outputs, registry: registry) }
        let stage = try self.merge(merge, into: outputs, keepingGraph: recipe.tune != nil, registry: registry)
        let tuned = try recipe.tune.map { options in
            try tune(options, into: outputs, model: stage.graph, factors: stage.factors, registry: registry)
        }
        try outputs.commit()
        return RecipeOutcome(merge: stage.outcome, tune: tuned, files: outputs.paths)
    }

    /// Checks a recipe without computing or writing: the merge's dry run, then the tuning
    /// stage's outputs (formats, settings, and that they may be written).
    public static func dryRun(_ recipe: RecipePlan, registry: FormatRegistry = Amalgam.builtInFormats) throws
        -> MergeDryRun
    {
        var dry = try dryRun(recipe.merge, registry: registry)
        if let tune = recipe.tune {
            let outputs = OutputSet(overwrite: tune.overwrite)
            try precheck(tune, outputs: outputs, registry: registry)
            dry.files += tune.outputs.map(\.path) + [tune.logPath, tune.reportHTML].compactMap { $0 }
        }
        return dry
    }
}
