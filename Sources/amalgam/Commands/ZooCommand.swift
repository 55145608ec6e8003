import Amalgam
import Zoo

/// `amalgam zoo build DIR`: the model zoo of the transfer benchmark and the demo.
struct ZooCommand: Command {
    static let name = "zoo"
    static let summary =
        "Build a model zoo: a pre-trained base and one fine-tune per task, on real data, stored in mixed formats."
    static let positionals = ["build", "DIR"]
    static let settings: [Setting] = [
        .zooFamily, .zooSize, .zooSeed, .fashionFolder, .digitsFile, .wordnetFolder, .textBase, .textTokenizer,
        .threads, .force,
    ]
    static let discussion = """
        The vision families pre-train their base on rotation prediction over Fashion-MNIST (no task labels), then
        fine-tune it on eight tasks (Fashion-MNIST, garment groups, rotated, mirrored and inverted, digits, digit
        parity, digits of at least 5, tops); the text family fine-tunes paraphrase-MiniLM-L3-v2 on six WordNet gloss
        tasks. DIR gets manifest.json, base.safetensors, sources/ (safetensors, GGUF F16 and Q8_0, ONNX, npz) and
        data/ (npz files for --data and --eval).

        example:
          amalgam zoo build .build/zoo/example --family mlp --size test
        """

    let options: ZooOptions

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        let words = try arguments.positionals(Self.positionals)
        guard words[0] == "build" else {
            throw AmalgamError(.usage, "'\(words[0])' is not a zoo action (build is)")
        }
        let values = arguments.values
        var options = ZooOptions(folder: words[1])
        options.family = values.text(.zooFamily).flatMap(ZooFamily.init(rawValue:)) ?? .mlp
        options.size = values.text(.zooSize).flatMap(ZooSize.init(rawValue:)) ?? .demo
        options.seed = values.seed(.zooSeed) ?? 0
        options.fashionFolder = values.text(.fashionFolder) ?? options.fashionFolder
        options.digits = values.text(.digitsFile) ?? options.digits
        options.wordnetFolder = values.text(.wordnetFolder) ?? options.wordnetFolder
        options.textBase = values.text(.textBase)
        options.textTokenizer = values.text(.textTokenizer)
        options.overwrite = values.flag(.force)
        options.progress = TerminalProgress()
        options.info = { Terminal.out($0) }
        options.warn = { Terminal.err("amalgam zoo: warning: \($0)") }
        self.options = options
    }

    func run() throws {
        let manifest = try Zoo.build(options)
        Terminal.out("wrote \(options.folder): \(manifest.tasks.count) sources and their data, manifest.json")
    }
}
