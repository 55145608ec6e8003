/// What a writer will produce for one graph, computed once before any tensor is loaded:
/// the files, the order it loads the tensors in, and what it has to tell the user.
///
/// A plan is made from a graph's structure (names, shapes, encodings, metadata) and checks
/// everything that can be checked without tensor bytes, so a bad combination fails before a
/// merge computes anything. `write` then streams a graph of that structure (the planned one,
/// or a copy of it read back from a scratch file) into an `OutputSet`; the command commits.
public protocol WritePlan {
    /// Every model file the plan writes (files, shards, index), in order.
    var targets: [String] { get }
    /// Companion files it writes beside them (config.json, tokenizer.json): an existing one
    /// with other contents is kept with a warning unless the command overwrites.
    var companions: [String] { get }
    /// Indices into the graph's tensors in the order `write` loads them, so producers of
    /// computed tensors can work ahead in that order.
    var loadOrder: [Int] { get }
    /// Lossy or surprising choices, one line each (a dtype the format lacks), to show once.
    var warnings: [String] { get }
    /// Files the plan reads besides the graph's own (a template), never to be overwritten.
    var inputs: [String] { get }
    /// Bytes of tensor data `write` will load, for progress.
    var tensorBytes: Int { get }
    /// Writes `graph` into `outputs`. - Precondition: `graph` has the planned structure.
    func write(_ graph: ModelGraph, into outputs: OutputSet, progress: any ProgressReporter) throws
}

extension WritePlan {
    public var inputs: [String] { [] }
    public var companions: [String] { [] }
}
