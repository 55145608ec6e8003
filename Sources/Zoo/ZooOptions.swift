import AmalgamCore

/// What `amalgam zoo build` builds, and from which files.
public struct ZooOptions: Sendable {
    public var folder: String
    public var family: ZooFamily = .mlp
    public var size: ZooSize = .demo
    public var seed: UInt64 = 0
    /// Debian's `dataset-fashion-mnist` IDX files.
    public var fashionFolder = "/usr/share/datasets/fashion-mnist"
    /// scikit-learn's `digits.csv.gz` (`make` extracts it from the wheel to this path).
    public var digits = ".build/data/digits.csv.gz"
    /// Debian's `wordnet-base` data files.
    public var wordnetFolder = "/usr/share/wordnet"
    /// The text family's pre-trained base (paraphrase-MiniLM-L3-v2, ONNX) and the tokenizer
    /// it was trained with (the uncased BERT WordPiece vocabulary of all-MiniLM-L6-v2).
    public var textBase: String?
    public var textTokenizer: String?
    public var overwrite = false
    public var progress: any ProgressReporter = SilentProgress()
    /// One line per step (`fine-tuned digits: 97.2%`).
    public var info: @Sendable (String) -> Void = { _ in }
    public var warn: @Sendable (String) -> Void = { _ in }

    public init(folder: String) { self.folder = folder }
}
