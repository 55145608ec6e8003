import AmalgamCore
import ONNXFormat
import Tuning

/// A family's zoo before its sources are fine-tuned: the pre-trained base, every task's
/// data, and how sources are trained and stored.
struct PreparedZoo {
    struct Task {
        let name: String
        let summary: String
        let classes: Int
        let train: LabelledData
        let test: LabelledData
    }

    var base: ModelGraph
    var pretraining: String
    var tasks: [Task]
    /// Full fine-tuning of each source from the base's body.
    var fineTune: TuningSetup
    var heads: Int?
    /// How an ONNX source is written (nodes for the MLP, the base's graph for text).
    var onnx: (ModelGraph) -> ONNXWriterOptions = { _ in ONNXWriterOptions() }
    /// GGUF sources' architecture name.
    var ggufArchitecture: String?
    /// Files read while preparing, never to be overwritten.
    var inputs: [String] = []
}
