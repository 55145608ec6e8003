import Amalgam

/// `amalgam tokenize`: text lines into a training npz, with BERT's WordPiece tokenizer.
struct TokenizeCommand: Command {
    static let name = "tokenize"
    static let summary = "Tokenise text (one example per line, LABEL<TAB>TEXT or TEXT) into an npz for train and tune."
    static let positionals = ["TEXT"]
    static let requiredSettings: [Setting] = [.tokenizer, .output]
    static let settings: [Setting] = [.tokenizer, .output, .maximumLength, .force]
    static let discussion = """
        Writes input_ids, attention_mask and token_type_ids (and labels when every line has one), padded with [PAD]
        to the longest sequence, as Hugging Face tokenizers' BERT pipeline gives them.

        example:
          amalgam tokenize texts.txt --tokenizer vocab.txt --output texts.npz --max-length 16
        """

    let text: String
    let tokenizer: String
    let output: String
    let maximumLength: Int
    let overwrite: Bool

    init(_ arguments: ParsedArguments) throws(AmalgamError) {
        text = try arguments.positionals(Self.positionals)[0]
        let values = arguments.values
        tokenizer = try values.required(.tokenizer)
        output = try values.required(.output)
        maximumLength = values.integer(.maximumLength) ?? 128
        overwrite = values.flag(.force)
    }

    func run() throws {
        let tokenizer = try WordPieceTokenizer(file: self.tokenizer)
        let (examples, length) = try Amalgam.tokenize(
            text, tokenizer: tokenizer, maximumLength: maximumLength, output: output, overwrite: overwrite)
        Terminal.out("wrote \(output): \(examples) sequences of up to \(length) tokens")
    }
}
