import Amalgam

#if canImport(Glibc)
    import Glibc
#endif

/// `amalgam diff A B`: two models in any formats compared tensor by tensor.
struct DiffCommand: Command {
    static let name = "diff"
    static let summary = "Compare two models in any formats tensor by tensor, within tolerances."
    static let positionals = ["A", "B"]
    static let settings: [Setting] = [.absoluteTolerance, .relativeTolerance, .json, .keepConstants, .threads]
    static let discussion = """
        A and B are read through the layer graph, so names are canonical whatever the formats
        (a GGUF's blk.0.attn_q.weight meets a safetensors' model.layers.0.self_attn.q_proj.weight)
        and quantised tensors are decoded. Listed: tensors only in one, tensors whose shapes
        differ, and for every common tensor its encodings, the largest absolute error, the
        relative Frobenius error ||A - B|| / ||B|| and the cosine similarity. Values agree when
        |a - b| <= atol + rtol * |b| (B is the reference; the defaults ask for equal values).
        The exit status is 1 when anything differs beyond that.

        examples:
          amalgam diff model.gguf model.safetensors --atol 0.01
          amalgam diff model.safetensors model.gguf --atol 0.01 --json
        """

    let a: String
    let b: String
    let tolerance: Tolerance
    let json: Bool
    let read: ReadOptions

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        let paths = try arguments.positionals(Self.positionals)
        (a, b) = (paths[0], paths[1])
        tolerance = Tolerance(
            absolute: arguments.values.real(.absoluteTolerance) ?? 0,
            relative: arguments.values.real(.relativeTolerance) ?? 0)
        json = arguments.values.flag(.json)
        read = ReadOptions(keepConstants: arguments.values.flag(.keepConstants))
    }

    func run() throws {
        let (readerA, graphA) = try Amalgam.builtInFormats.read(a, options: read)
        let (readerB, graphB) = try Amalgam.builtInFormats.read(b, options: read)
        let comparison = ModelComparison(graphA, graphB) { _, _ in tolerance }
        if json {
            guard case .object(var members) = comparison.json else { return }
            members.insert(
                contentsOf: [
                    ("a", .object([("file", .string(a)), ("format", .string(readerA.identifier))])),
                    ("b", .object([("file", .string(b)), ("format", .string(readerB.identifier))])),
                    ("atol", JSONValue(MetadataValue.f64(tolerance.absolute))),
                    ("rtol", JSONValue(MetadataValue.f64(tolerance.relative))),
                ], at: 0)
            Terminal.out(JSONValue.object(members).serialized(pretty: true))
        } else {
            Terminal.out(
                text(
                    comparison, formats: (readerA.identifier, readerB.identifier),
                    counts: (graphA.tensors.count, graphB.tensors.count)))
        }
        if let disagreement = comparison.disagreement {
            throw AmalgamError(.mismatch, "\(a) and \(b) differ: \(disagreement)")
        }
    }

    private func text(_ comparison: ModelComparison, formats: (String, String), counts: (Int, Int)) -> String {
        var lines = [
            "A: \(a) (\(formats.0), \(counts.0) tensors)", "B: \(b) (\(formats.1), \(counts.1) tensors)",
        ]
        for name in comparison.onlyInA { lines.append("only in A: \(name)") }
        for name in comparison.onlyInB { lines.append("only in B: \(name)") }
        for difference in comparison.shapeDifferences {
            lines.append("shape differs: \(difference.name): \(difference.a) vs \(difference.b)")
        }
        for failure in comparison.failures { lines.append("not compared: \(failure)") }
        if !comparison.tensors.isEmpty {
            let width = max(6, comparison.tensors.map(\.name.count).max()!)
            func padded(_ text: String, _ size: Int) -> String {
                text + String(repeating: " ", count: max(0, size - text.count))
            }
            lines.append(
                "\(padded("tensor", width))  \(padded("encodings", 15))  \(padded("max abs err", 12))  \(padded("rel frob err", 12))  cosine"
            )
            for tensor in comparison.tensors {
                let encodings =
                    tensor.encodingA == tensor.encodingB
                    ? tensor.encodingA : "\(tensor.encodingA) vs \(tensor.encodingB)"
                lines.append(
                    "\(padded(tensor.name, width))  \(padded(encodings, 15))  \(padded(Self.scientific(tensor.maximumAbsoluteError), 12))  \(padded(Self.scientific(tensor.relativeFrobeniusError), 12))  \(Self.fixed(tensor.cosineSimilarity, digits: 8))\(tensor.agrees ? "" : "  outside: \(tensor.elementsOutside) elements")"
                )
            }
        }
        let agreeing = comparison.tensors.filter(\.agrees).count
        lines.append(
            "\(agreeing) of \(comparison.tensors.count) compared tensors agree within atol \(tolerance.absolute), rtol \(tolerance.relative)"
        )
        return lines.joined(separator: "\n")
    }

    /// `1.234e-05`: `digits` significant digits in scientific notation, `0` for zero.
    static func scientific(_ value: Double, digits: Int = 4) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        guard value != 0 else { return "0" }
        var exponent = Int(log10(abs(value)).rounded(.down))
        let scale = pow(10, Double(digits - 1))
        var scaled = (abs(value) / pow(10, Double(exponent)) * scale).rounded()
        if scaled >= 10 * scale {
            scaled /= 10
            exponent += 1
        }
        let text = String(Int(scaled))
        let magnitude = abs(exponent) < 10 ? "0\(abs(exponent))" : "\(abs(exponent))"
        return "\(value < 0 ? "-" : "")\(text.prefix(1)).\(text.dropFirst())e\(exponent < 0 ? "-" : "+")\(magnitude)"
    }

    /// `0.99999998`: `digits` decimals.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
        let scale = pow(10, Double(digits))
        let rounded = (abs(value) * scale).rounded()
        let whole = Int((rounded / scale).rounded(.down))
        let fraction = String(Int(rounded - Double(whole) * scale))
        return
            "\(value < 0 && rounded > 0 ? "-" : "")\(whole).\(String(repeating: "0", count: digits - fraction.count))\(fraction)"
    }
}
