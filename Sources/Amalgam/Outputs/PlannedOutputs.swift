/// The model outputs of one command, planned on a graph's structure before any tensor is
/// computed, their targets reserved in the command's `OutputSet`, then written from a graph of
/// that structure. Shared by convert, merge, tune and train.
struct PlannedOutputs {
    struct Item {
        let output: ModelOutput
        let writer: any FormatWriter
        let plan: any WritePlan
    }

    let items: [Item]
    /// What preparing the graph for the outputs did (quantised tensors decoded).
    let notes: [String]

    /// Plans every output of `graph`, reserving its files in `outputs` (and protecting the
    /// files the plans read). Warnings of the plans go to `outputs.warn`, once each.
    init(_ requests: [ModelOutput], graph: ModelGraph, into outputs: OutputSet, registry: FormatRegistry) throws {
        var items: [Item] = []
        var notes: [String] = []
        for request in requests {
            let writer = try request.writer(in: registry)
            let (prepared, preparation) = try request.prepared(graph, for: writer)
            let plan = try writer.plan(prepared, to: request.writerPath(for: writer), settings: request.settings)
            for input in plan.inputs { outputs.protect(input) }
            items.append(Item(output: request, writer: writer, plan: plan))
            notes += preparation
        }
        self.notes = notes
        for item in items {
            for target in item.plan.targets { try outputs.reserve(target) }
            if let level = item.output.zstdLevel {
                for target in item.plan.targets { outputs.compressOnCommit(target, level: level) }
            }
        }
        self.items = items
    }

    /// Lines the preparation and the plans have for the user, in output order.
    var warnings: [String] { notes + items.flatMap(\.plan.warnings) }

    /// The order the first output loads the graph's tensors in.
    var firstLoadOrder: [Int]? { items.first?.plan.loadOrder }

    /// Every file the outputs will write, companions included.
    var files: [String] { items.flatMap { $0.plan.targets + $0.plan.companions } }

    /// Writes `graph` (of the planned structure) to every output; `label` names the first
    /// output's progress phase (a merge computes while it is written).
    func write(
        _ graph: ModelGraph, into outputs: OutputSet, progress: any ProgressReporter, label: String? = nil
    ) throws {
        for (position, item) in items.enumerated() {
            let phase = position == 0 ? label : nil
            progress.begin(
                label: phase ?? "writing \(FileSystem.baseName(of: item.output.path))",
                total: Int64(item.plan.tensorBytes))
            defer { progress.finish() }
            try item.plan.write(
                try item.output.prepared(graph, for: item.writer).graph, into: outputs, progress: progress)
        }
    }
}
