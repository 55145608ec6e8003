/// The writing direction of a format.
///
/// Contract: `plan` checks the whole graph (dtypes the format can hold, names, shapes,
/// a template's compatibility) and decides every output file, without loading tensor bytes
/// and without creating anything. The plan's `write` streams tensor by tensor (loading each
/// tensor's bytes once) into the `OutputSet` it is handed; it never creates or commits a
/// transaction of its own, so a command's outputs appear together or not at all.
public protocol FormatWriter: FormatPlugin {
    associatedtype Options: WriterOptions
    func plan(_ graph: ModelGraph, to path: String, options: Options) throws -> any WritePlan
}

extension FormatWriter {
    /// Reads this writer's options from `settings` (refusing settings it does not take, by
    /// the name the user gave them) and plans.
    public func plan(_ graph: ModelGraph, to path: String, settings: OutputSettings) throws -> any WritePlan {
        try plan(graph, to: path, options: try options(from: settings))
    }

    /// This writer's options from `settings`; `.usage` for a given setting it does not take.
    public func options(from settings: OutputSettings) throws(AmalgamError) -> Options {
        for setting in settings.given where !Options.accepted.contains(setting) {
            throw AmalgamError(.usage, "\(settings.label(setting)) does not apply to \(displayName) output")
        }
        return try Options(settings)
    }

    /// Whether this writer takes `setting`.
    public func accepts(_ setting: OutputSetting) -> Bool { Options.accepted.contains(setting) }

    /// Writes one graph as one output set of its own and commits it: for tests, tools and
    /// simple programs. Commands that write several files plan each into one `OutputSet`.
    @discardableResult
    public func write(
        _ graph: ModelGraph, to path: String, options: Options = Options(), overwrite: Bool = false,
        progress: any ProgressReporter = SilentProgress(), warn: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> [String] {
        let plan = try plan(graph, to: path, options: options)
        let outputs = OutputSet(overwrite: overwrite, protecting: graph.sourceFileIdentities, warn: warn)
        for input in plan.inputs { outputs.protect(input) }
        for target in plan.targets { try outputs.reserve(target) }
        for line in plan.warnings { warn(line) }
        try plan.write(graph, into: outputs, progress: progress)
        try outputs.commit()
        return outputs.paths
    }

    /// `write(_:to:options:overwrite:)` with the options read from `settings` (usable where
    /// the writer is known only as `any FormatWriter`).
    @discardableResult
    public func write(
        _ graph: ModelGraph, to path: String, settings: OutputSettings, overwrite: Bool = false,
        warn: @escaping @Sendable (String) -> Void = { _ in }
    ) throws -> [String] {
        try write(graph, to: path, options: try options(from: settings), overwrite: overwrite, warn: warn)
    }
}
