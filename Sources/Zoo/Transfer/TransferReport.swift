import Amalgam
import AmalgamCore

/// The benchmark's tables, as Markdown and as JSON, from its runs' results.
public struct TransferReport: Sendable {
    public let manifest: ZooManifest
    public let settings: TransferProtocol
    public let results: [TransferResult]
    let zoo: String

    init(manifest: ZooManifest, settings: TransferProtocol, results: [TransferResult], zoo: String) {
        self.manifest = manifest
        self.settings = settings
        self.results = results
        self.zoo = zoo
    }

    /// The results of `method` at `fraction` (any fraction for methods without one) under `variant`.
    func results(_ method: TransferMethod, fraction: Double?, variant: TransferVariant = .standard)
        -> [TransferResult]
    {
        results.filter {
            $0.run.method == method && $0.run.variant == variant
                && (!method.usesFraction || $0.run.fraction == fraction)
        }
    }

    public func summary(_ method: TransferMethod, fraction: Double?, variant: TransferVariant = .standard) -> Summary {
        Summary(results(method, fraction: fraction, variant: variant).map(\.accuracy))
    }

    /// `reference` (AXIS unless given) minus `other` over the (target, seed) pairs both have.
    public func difference(
        _ other: TransferMethod, from reference: TransferMethod = .axis, fraction: Double?,
        variant: TransferVariant = .standard
    ) -> PairedDifference {
        var theirs: [String: Double] = [:]
        for result in results(other, fraction: fraction, variant: variant) {
            theirs["\(result.run.target)/\(result.run.seed)"] = result.accuracy
        }
        let pairs = results(reference, fraction: fraction, variant: variant).compactMap { result in
            theirs["\(result.run.target)/\(result.run.seed)"].map { (result.accuracy, $0) }
        }
        return PairedDifference(pairs)
    }

    var methods: [TransferMethod] {
        TransferMethod.allCases.filter { method in results.contains { $0.run.method == method } }
    }
    var targets: [String] { manifest.tasks.map(\.name).filter { name in results.contains { $0.run.target == name } } }
    var seeds: [UInt64] { Array(Set(results.map(\.run.seed))).sorted() }

    static func points(_ value: Double) -> String { fixed(value * 100, digits: 2) }

    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "—" }
        let scale = Double((0..<digits).reduce(1) { value, _ in value * 10 })
        let rounded = (abs(value) * scale).rounded()
        let whole = Int(rounded / scale)
        let fraction = String(Int(rounded.truncatingRemainder(dividingBy: scale)))
        let sign = value < 0 && rounded > 0 ? "-" : ""
        return digits == 0
            ? "\(sign)\(whole)" : "\(sign)\(whole).\(String(repeating: "0", count: digits - fraction.count))\(fraction)"
    }

    static func signed(_ value: Double) -> String { (value > 0 ? "+" : "") + points(value) }

    static func meanStd(_ summary: Summary) -> String {
        summary.count == 0 ? "—" : "\(points(summary.mean)) ± \(points(summary.standardDeviation))"
    }

    static func percentLabel(_ fraction: Double) -> String { "\(Int((fraction * 100).rounded()))%" }

    /// The report as Markdown: the protocol, the main table, AXIS's paired differences, the
    /// per-target table, robustness and the source-count sweep, and where AXIS wins and loses.
    public var markdown: String {
        var lines: [String] = []
        let taskCount = manifest.tasks.count
        lines.append("# Multi-source transfer: \(manifest.family.rawValue) zoo (\(manifest.size.rawValue))")
        lines.append("")
        lines.append(
            "Zoo `\(zoo)`: \(taskCount) tasks, base pre-trained by \(manifest.pretraining). Each target is held out in turn; the other \(taskCount - 1) tasks' fine-tunes are the sources (its own never is). \(targets.count) targets × \(seeds.count) seeds (\(seeds.map(String.init).joined(separator: ", "))); accuracy on the target's test set, mean ± sample std over targets × seeds, in %."
        )
        lines.append("")
        let epochsNote = "max(\(settings.minimumEpochs), ceil(\(settings.steps) / steps per epoch))"
        lines.append(
            "Protocol: at most \(settings.trainLimit) target training examples, batch \(settings.batch), AdamW (weight decay \(settings.weightDecay)), cosine schedule without warm-up, gradient clipping \(settings.clipNorm), epochs = \(epochsNote). Stage 2 (S2): the top N = round-half-up(fraction · min(m, n)) singular values of every merged matrix train at lr \(settings.learningRate), starting at zero, beside a new head at lr \(settings.headLearningRate); AXIS keeps K = round-half-up(max(\(settings.kFraction), fraction) · min(m, n)) components (N ≤ K). Base+S2: the base's own top-N singular directions; Random+S2: random orthonormal ones. Linear probe: the head alone at lr \(settings.probeLearningRate). Full fine-tune: every weight at lr \(settings.fineTuneLearningRate), the head at \(settings.headLearningRate)."
        )
        lines.append("")
        let fractions = settings.fractions.filter { fraction in
            results.contains { $0.run.fraction == fraction && $0.run.variant == .standard }
        }
        lines.append("## Accuracy")
        lines.append("")
        lines.append(
            "| method | " + fractions.map { "N = \(Self.percentLabel($0))" }.joined(separator: " | ")
                + " | trainable parameters (N = \(fractions.first.map(Self.percentLabel) ?? "—")) |")
        lines.append("|---|" + fractions.map { _ in "---|" }.joined() + "---|")
        for method in methods {
            let cells = fractions.map { Self.meanStd(summary(method, fraction: $0)) }
            let trainable = results(method, fraction: fractions.first).map(\.trainable)
            let average = trainable.isEmpty ? "—" : InspectionReport.grouped(trainable.reduce(0, +) / trainable.count)
            lines.append("| \(method.label) | " + cells.joined(separator: " | ") + " | \(average) |")
        }
        lines.append("")
        lines.append("## AXIS against each method (paired over targets × seeds)")
        lines.append("")
        lines.append(
            "AXIS minus the method, in points: mean ± std, and AXIS's wins / losses / ties.")
        lines.append("")
        lines.append("| method | " + fractions.map { "N = \(Self.percentLabel($0))" }.joined(separator: " | ") + " |")
        lines.append("|---|" + fractions.map { _ in "---|" }.joined())
        var verdicts: [String] = []
        for method in methods where method != .axis {
            let cells = fractions.map { fraction -> String in
                let d = difference(method, fraction: fraction)
                guard d.differences.count > 0 else { return "—" }
                return
                    "\(Self.signed(d.differences.mean)) ± \(Self.points(d.differences.standardDeviation)) (\(d.wins)/\(d.losses)/\(d.ties))"
            }
            lines.append("| \(method.label) | " + cells.joined(separator: " | ") + " |")
            if let fraction = fractions.first {
                let d = difference(method, fraction: fraction)
                if d.differences.count > 0 {
                    let verb = d.differences.mean > 0 ? "beats" : d.differences.mean < 0 ? "loses to" : "ties"
                    verdicts.append(
                        "AXIS \(verb) \(method.label) by \(Self.points(abs(d.differences.mean))) points at N = \(Self.percentLabel(fraction)) (\(d.wins) wins, \(d.losses) losses of \(d.differences.count))."
                    )
                }
            }
        }
        lines.append("")
        if !verdicts.isEmpty {
            lines.append("## Where AXIS wins and where it loses")
            lines.append("")
            for verdict in verdicts { lines.append("- " + verdict) }
            lines.append("")
        }
        let variants = methods.filter {
            (TransferMethod.variants.contains($0) || $0 == .axis || $0 == .axisMergedStart) && $0 != .tsvmMergedStart
        }
        for reference in [TransferMethod.tsvm, .tsvmMergedStart, .baseS2]
        where methods.contains(reference) && variants.count > 1 {
            lines += pairedTable(variants, against: reference, fractions: fractions)
        }
        if let fraction = fractions.first { lines += diagnosticsTable(fraction: fraction) }
        if let fraction = fractions.first {
            lines.append("## Per target (N = \(Self.percentLabel(fraction)), mean over seeds)")
            lines.append("")
            lines.append("| target | " + methods.map(\.label).joined(separator: " | ") + " |")
            lines.append("|---|" + methods.map { _ in "---|" }.joined())
            for target in targets {
                let cells = methods.map { method -> String in
                    let values = results(method, fraction: fraction).filter { $0.run.target == target }.map(\.accuracy)
                    return values.isEmpty ? "—" : Self.points(Summary(values).mean)
                }
                lines.append("| \(target) | " + cells.joined(separator: " | ") + " |")
            }
            lines.append("")
            lines += robustnessTable(fraction: fraction) + sweepTable(fraction: fraction)
        }
        let seconds = results.reduce(0) { $0 + $1.seconds }
        lines.append(
            "\(results.count) runs, \(Self.fixed(seconds / 60, digits: 1)) minutes of training in all (one thread per run)."
        )
        return lines.joined(separator: "\n") + "\n"
    }

    /// Each of `methods` minus `reference`, paired over targets × seeds.
    private func pairedTable(_ methods: [TransferMethod], against reference: TransferMethod, fractions: [Double])
        -> [String]
    {
        var lines = ["## AXIS and its variants against \(reference.label) (paired)", ""]
        lines.append(
            "The method minus \(reference.label), in points: mean ± std, and the method's wins / losses / ties.")
        lines.append("")
        lines.append("| method | " + fractions.map { "N = \(Self.percentLabel($0))" }.joined(separator: " | ") + " |")
        lines.append("|---|" + fractions.map { _ in "---|" }.joined())
        for method in methods {
            let cells = fractions.map { fraction -> String in
                let d = difference(reference, from: method, fraction: fraction)
                guard d.differences.count > 0 else { return "—" }
                return
                    "\(Self.signed(d.differences.mean)) ± \(Self.points(d.differences.standardDeviation)) (\(d.wins)/\(d.losses)/\(d.ties))"
            }
            lines.append("| \(method.label) | " + cells.joined(separator: " | ") + " |")
        }
        return lines + [""]
    }

    /// The subspace measures (`SubspaceDiagnostics`) of each Stage 2 method, means over runs.
    private func diagnosticsTable(fraction: Double) -> [String] {
        let measured = methods.compactMap { method -> (TransferMethod, [SubspaceDiagnostics])? in
            let values = results(method, fraction: fraction).compactMap(\.diagnostics)
            return values.isEmpty ? nil : (method, values)
        }
        guard !measured.isEmpty else { return [] }
        var lines = [
            "## What Stage 2 trains in (N = \(Self.percentLabel(fraction)), means over matrices and runs)", "",
        ]
        lines.append(
            "Source energy: the share of each source's task vector inside the trained subspace pair, ‖U_Nᵀ Di V_N‖² / ‖Di‖² (mean; least and most source). Target energy: the same for the target's own fine-tune, which no run sees. Overlap: mean cos² of the principal angles between the trained U_N (V_N) and the target update's top-N left (right) singular vectors. Remainder: the frozen part of the merged update beyond N, its share of the update's energy and its cosine with the target's task vector."
        )
        lines.append("")
        lines.append(
            "| method | source energy (least–most) | target energy | overlap U | overlap V | remainder share | remainder · target |"
        )
        lines.append("|---|---|---|---|---|---|---|")
        for (method, values) in measured {
            func mean(_ key: KeyPath<SubspaceDiagnostics, Double>) -> String {
                Self.fixed(values.map { $0[keyPath: key] }.reduce(0, +) / Double(values.count), digits: 3)
            }
            lines.append(
                "| \(method.label) | \(mean(\.sourceEnergy)) (\(mean(\.leastSourceEnergy))–\(mean(\.mostSourceEnergy))) | \(mean(\.targetEnergy)) | \(mean(\.leftOverlap)) | \(mean(\.rightOverlap)) | \(mean(\.remainderShare)) | \(mean(\.remainderAlignment)) |"
            )
        }
        return lines + [""]
    }

    private func robustnessTable(fraction: Double) -> [String] {
        let variants: [TransferVariant] = [.standard, .noisySource, .pruned]
        let methods = TransferOptions.robustnessMethods.filter { method in
            results.contains { $0.run.method == method && $0.run.variant == .noisySource }
        }
        guard !methods.isEmpty else { return [] }
        var lines = ["## Robustness (N = \(Self.percentLabel(fraction)))", ""]
        lines.append("| method | " + variants.map(\.label).joined(separator: " | ") + " |")
        lines.append("|---|" + variants.map { _ in "---|" }.joined())
        for method in methods {
            let cells = variants.map { Self.meanStd(summary(method, fraction: fraction, variant: $0)) }
            lines.append("| \(method.label) | " + cells.joined(separator: " | ") + " |")
        }
        return lines + [""]
    }

    private func sweepTable(fraction: Double) -> [String] {
        let counts = Array(
            Set(
                results.compactMap { result -> Int? in
                    if case .sources(let count) = result.run.variant { return count }
                    return nil
                })
        ).sorted()
        guard !counts.isEmpty else { return [] }
        let all = manifest.tasks.count - 1
        var lines = ["## Number of sources (N = \(Self.percentLabel(fraction)))", ""]
        lines.append("| method | " + (counts + [all]).map { "\($0)" }.joined(separator: " | ") + " |")
        lines.append("|---|" + (counts + [all]).map { _ in "---|" }.joined())
        for method in TransferOptions.sweepMethods where results.contains(where: { $0.run.method == method }) {
            let cells =
                counts.map { Self.meanStd(summary(method, fraction: fraction, variant: .sources($0))) }
                + [Self.meanStd(summary(method, fraction: fraction))]
            lines.append("| \(method.label) | " + cells.joined(separator: " | ") + " |")
        }
        let base = summary(.baseS2, fraction: fraction)
        if base.count > 0 {
            lines.append(
                "| Base+S2 (no sources) | " + (counts + [all]).map { _ in Self.meanStd(base) }.joined(separator: " | ")
                    + " |")
        }
        return lines + [""]
    }

    /// Every run and the aggregates, for scripts.
    public var json: JSONValue {
        func number(_ value: Double) -> JSONValue { value.isFinite ? .number(ZooManifest.decimal(value)) : .null }
        func summaryJSON(_ summary: Summary) -> JSONValue {
            .object([
                ("count", .integer(summary.count)), ("mean", number(summary.mean)),
                ("std", number(summary.standardDeviation)),
            ])
        }
        var aggregates: [JSONValue] = []
        for method in methods {
            for fraction in method.usesFraction ? settings.fractions.map({ Optional($0) }) : [nil] {
                let s = summary(method, fraction: fraction)
                guard s.count > 0 else { continue }
                var members: [(String, JSONValue)] = [
                    ("method", .string(method.rawValue)), ("label", .string(method.label)),
                    ("fraction", fraction.map { .number("\($0)") } ?? .null),
                    ("accuracy", summaryJSON(s)),
                ]
                let measured = results(method, fraction: fraction).compactMap(\.diagnostics)
                if !measured.isEmpty {
                    let means = SubspaceDiagnostics.keys.indices.map { index in
                        measured.map { $0.values[index] }.reduce(0, +) / Double(measured.count)
                    }
                    members.append(
                        ("diagnostics", .object(zip(SubspaceDiagnostics.keys, means).map { ($0, number($1)) })))
                }
                for reference in [TransferMethod.tsvm, .tsvmMergedStart, .baseS2] where method != reference {
                    guard let f = fraction ?? settings.fractions.first else { continue }
                    let d = difference(reference, from: method, fraction: f)
                    guard d.differences.count > 0 else { continue }
                    members.append(
                        (
                            "minus_" + reference.rawValue.replacingOccurrences(of: "-", with: "_"),
                            .object([
                                ("difference", summaryJSON(d.differences)), ("wins", .integer(d.wins)),
                                ("losses", .integer(d.losses)), ("ties", .integer(d.ties)),
                            ])
                        ))
                }
                if method != .axis, let f = fraction ?? settings.fractions.first {
                    let d = difference(method, fraction: f)
                    members.append(
                        (
                            "axis_minus_method",
                            .object([
                                ("difference", summaryJSON(d.differences)), ("wins", .integer(d.wins)),
                                ("losses", .integer(d.losses)), ("ties", .integer(d.ties)),
                            ])
                        ))
                }
                aggregates.append(.object(members))
            }
        }
        return .object([
            ("schema", .string("amalgam.transfer-benchmark/1")), ("zoo", .string(zoo)),
            ("family", .string(manifest.family.rawValue)), ("size", .string(manifest.size.rawValue)),
            ("sources_per_target", .integer(manifest.tasks.count - 1)), ("protocol", settings.json),
            ("aggregates", .array(aggregates)),
            ("runs", .array(results.map(\.json))),
        ])
    }
}
