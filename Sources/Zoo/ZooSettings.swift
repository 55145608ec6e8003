import Amalgam

/// The settings of `amalgam zoo build` and `amalgam bench transfer`, declared once.
extension Setting {
    public static let zooFamily = Setting(
        "family", .choice(ZooFamily.allCases.map(\.rawValue)), placeholder: "NAME", default: "mlp",
        help: "mlp (784-256-256-256), vit (patch 7, width 64, 3 blocks) or text (paraphrase-MiniLM-L3-v2).")
    public static let zooSize = Setting(
        "size", .choice(ZooSize.allCases.map(\.rawValue)), placeholder: "SIZE", default: "demo",
        help: "demo (minutes on 2 cores), full (the benchmark's) or test (seconds; accuracies mean little).")
    public static let zooSeed = Setting(
        "seed", .seed, default: "0", help: "Seed of the data splits, initialisations and training shuffles.")
    public static let fashionFolder = Setting(
        "fashion", .text, placeholder: "DIR", default: "/usr/share/datasets/fashion-mnist",
        help: "Fashion-MNIST's IDX files (Debian dataset-fashion-mnist).")
    public static let digitsFile = Setting(
        "digits", .text, placeholder: "FILE", default: ".build/data/digits.csv.gz",
        help: "scikit-learn's digits.csv.gz (make extracts it from the scikit-learn wheel).")
    public static let wordnetFolder = Setting(
        "wordnet", .text, placeholder: "DIR", default: "/usr/share/wordnet",
        help: "WordNet's data.noun, data.verb, data.adj and data.adv (Debian wordnet-base).")
    public static let textBase = Setting(
        "text-base", .text, placeholder: "FILE", default: "paraphrase-MiniLM-L3-v2.onnx in .build/pyref",
        help: "The text family's pre-trained BERT encoder.")
    public static let textTokenizer = Setting(
        "tokenizer", .text, placeholder: "FILE", default: "all-MiniLM-L6-v2's tokenizer.json in .build/pyref",
        help: "The WordPiece tokenizer (tokenizer.json or vocab.txt) the text base was trained with.")
}

/// The settings of `amalgam bench transfer`.
extension Setting {
    public static let zooFolder = Setting(
        "zoo", .text, placeholder: "DIR", default: "the cached zoo of --family, --size and --seed (built when missing)",
        help: "The zoo to benchmark.")
    public static let demoZoo = Setting(
        "zoo", .text, placeholder: "DIR", default: "the MLP zoo at demo size in .build/zoo (built when missing)",
        help: "The zoo to take the base, the fine-tunes and the target's data from.")
    public static let transferTarget = Setting(
        "target", .text, placeholder: "TASK", default: "every task in turn", repeatable: true,
        help: "A task to hold out as the target.")
    public static let transferMethod = Setting(
        "method", .choice(TransferMethod.allCases.map(\.rawValue)), placeholder: "NAME",
        default: "all but the AXIS variants", repeatable: true,
        help:
            "A method to run: \(TransferMethod.standard.map(\.rawValue).joined(separator: ", ")); AXIS's variants (by name only): \(TransferMethod.variants.map(\.rawValue).joined(separator: ", "))."
    )
    public static let transferFraction = Setting(
        "fraction", .real(.openClosed(lower: 0, upper: 1)), placeholder: "F", default: "0.1, 0.2 and 0.4",
        repeatable: true, help: "N, the fraction of singular values Stage 2 trains.")
    public static let transferSeeds = Setting(
        "seeds", .integer(1...100), default: "3", help: "Seeds per target (0, 1, ...): shuffles and new heads.")
    public static let transferSteps = Setting(
        "steps", .integer(1...1_000_000), default: "480",
        help: "Training steps per run at least (epochs = max(5, ceil(steps / steps per epoch))).")
    public static let transferTrainLimit = Setting(
        "train-limit", .integer(1...1_000_000), default: "2000", help: "Target training examples at most.")
    public static let skipRobustness = Setting(
        "no-robustness", .flag, help: "Leave out the noisy-source and pruned-source runs.")
    public static let skipSweep = Setting("no-sweep", .flag, help: "Leave out the runs with fewer sources.")
    public static let transferReport = Setting(
        "report", .text, placeholder: "FILE.md", default: ".build/bench/transfer-FAMILY-SIZE.md",
        help: "The Markdown report; the JSON goes beside it (FILE.json).")
    public static let transferCache = Setting(
        "cache", .text, placeholder: "DIR", default: "ZOO/transfer-cache",
        help: "Finished runs' results, reused when the benchmark runs again.")
}
