/// Every setting of Amalgam's commands and recipes, declared once. Commands list the ones
/// they take; recipe sections take the same ones under their `recipeKey`.
extension Setting {
    // MARK: Running

    public static let threads = Setting(
        "threads", .integer(1...4096), placeholder: "N", default: "the cores this process may use",
        help: "Threads to use in all (a merge works on that many tensors at once, as far as memory allows).")
    public static let force = Setting(
        "force", .flag, help: "Overwrite existing outputs (inputs are never overwritten).")
    public static let dryRun = Setting(
        "dry-run", .flag, help: "Check the inputs and outputs and print the plan; compute and write nothing.")
    public static let json = Setting("json", .flag, help: "Print JSON instead of text.")

    // MARK: Reading

    public static let from = Setting(
        "from", .text, placeholder: "FORMAT", default: "detected from the bytes, then the extension",
        help: "Read the input as this format.")
    public static let keepConstants = Setting(
        "keep-constants", .flag,
        help: "ONNX input: keep every initializer and constant, not only the weights that nodes consume.")

    // MARK: Writing

    public static let output = Setting(
        "output", .text, placeholder: "OUT", recipeKey: "path",
        help: "Where to write (a file, or a folder ending in '/' for a Hugging Face folder).")
    public static let to = Setting(
        "to", .text, placeholder: "FORMAT", default: "from the output's name", recipeKey: "format",
        help: "Output format.")
    public static let dtype = Setting(
        "dtype", .choice(["f32", "f16", "bf16"]), placeholder: "DTYPE", default: "as they are",
        help: "Write floating-point tensors as f32, f16 or bf16 (round to nearest even).")
    public static let maximumShardSize = Setting(
        "max-shard-size", .size,
        help: "safetensors output: split into shards of at most SIZE of tensor data (5GB, 500MB, 2GiB).")
    public static let compress = Setting(
        "compress", .flag, help: "npz output: deflate every member (as numpy.savez_compressed).")
    public static let zstd = Setting(
        "zstd", .integer(1...22), placeholder: "LEVEL", default: "3 for a name ending in .zst",
        help:
            "Compress the model file with zstd at LEVEL (1-22); its name ends in .zst (model.safetensors.zst, model.gguf.zst). Compressed safetensors and GGUF files are read as they are."
    )
    public static let keepDType = Setting(
        "keep-dtype", .flag,
        help: "npz output: store bf16/float8 as raw bits plus __amalgam_dtypes__.json instead of float32.")
    public static let quant = Setting(
        "quant", .choice(Amalgam.quantizationChoices), placeholder: "TYPE",
        help:
            "GGUF output: quantise the weights to one type, as llama-quantize --pure does, or to one of llama.cpp's file types (q2_k, q3_k_m, q4_k_m, q5_k_s, iq4_xs, ...) with llama-quantize's per-tensor rules (\(Amalgam.quantizationChoices.joined(separator: ", "))); vectors stay f32."
    )
    public static let importanceMatrix = Setting(
        "imatrix", .text, placeholder: "FILE",
        help:
            "GGUF output with --quant: weight the quantisation by llama-imatrix's importance matrix (its GGUF output or the legacy .dat), as llama-quantize --imatrix does; q2_k_s needs one."
    )
    public static let template = Setting(
        "template", .text, placeholder: "BASE.onnx",
        help: "ONNX output: write BASE.onnx's graph with its initializers replaced by the model's tensors.")
    public static let externalData = Setting(
        "external-data", .flag,
        help: "ONNX output: keep tensor data in OUT.data beside OUT (automatic above protobuf's 2 GiB limit).")
    public static let ggufArchitecture = Setting(
        "arch", .text, placeholder: "NAME",
        help: "GGUF output: general.architecture to write when the model does not say (llama, qwen2, gemma3, ...).")

    // MARK: Merging

    public static let base = Setting(
        "base", .text, placeholder: "BASE", help: "The base model the sources were fine-tuned from.")
    public static let source = Setting(
        "source", .text, placeholder: "FILE", recipeKey: "sources", repeatable: true,
        help: "A fine-tuned model (repeat for each source; any readable format).")
    public static let method = Setting(
        "method", .text, placeholder: "METHOD", default: "axis",
        help: "The merge method: \(MergeMethods.names.joined(separator: ", ")).")
    public static let factors = Setting(
        "factors", .text, placeholder: "FILE",
        help:
            "Write the factors U, S, V of every merged matrix (safetensors), for Stage 2 (amalgam tune); for methods without their own, the SVD of the merged update."
    )
    public static let runOutput = Setting(
        "output", .text, placeholder: "OUT", shortName: "o",
        help: "mergekit configurations: where to write the merge (mergekit-yaml's OUT; a folder ending in '/').")
    public static let outputLoRA = Setting(
        "output-lora", .text, placeholder: "DIR",
        help:
            "Also write the merged update as a LoRA adapter: a PEFT folder (adapter_config.json, adapter_model.safetensors), or llama.cpp's adapter GGUF when DIR ends in .gguf. Each merged matrix's update becomes lora_B = U sqrt(S), lora_A = sqrt(S) V^T; other tensors the merge changed are saved whole (modules_to_save)."
    )
    public static let loraRank = Setting(
        "lora-rank", .integer(1...Int.max), placeholder: "R", default: "each update's whole rank",
        help:
            "Truncate each update's SVD at rank R (the energy kept per tensor goes to the report and the summary).")
    public static let extractionRank = Setting(
        "rank", .integer(1...Int.max), placeholder: "R",
        help: "The adapter's rank: each difference's top R singular triples.")
    public static let adapterOutput = Setting(
        "output", .text, placeholder: "DIR",
        help: "Where to write the adapter: a PEFT folder, or llama.cpp's adapter GGUF when it ends in .gguf.")
    public static let report = Setting("report", .text, placeholder: "FILE", help: "Write a per-tensor JSON report.")
    public static let reportHTML = Setting(
        "report-html", .text, placeholder: "FILE",
        help:
            "Also write the report as one self-contained HTML page with charts (spectra, components per source, norms per layer; for training, the curves), as 'amalgam report' makes."
    )
    public static let seed = Setting(
        "seed", .seed, default: "0", help: "Seed of randomized SVDs and DARE, or of shuffles and new heads in training."
    )
    public static let skip = Setting(
        "skip", .text, placeholder: "PATTERN", repeatable: true,
        help:
            "axis, tsv: average tensors matching PATTERN (* and ?) instead of SVD-merging them. Embeddings and vocabulary heads are always averaged."
    )
    public static let leaveOut = Setting(
        "leave-out", .text, placeholder: "PATTERN", repeatable: true,
        help:
            "Leave tensors matching PATTERN (* and ?) out of the merged model, as the sources' task heads; repeatable. Heads of differing label counts are left out anyway."
    )
    public static let noiseFloor = Setting(
        "noise-floor", .text, placeholder: "auto|off|FACTOR", default: "auto",
        help:
            "Quantised sources: leave out the components (axis, tsv) and task-vector entries (ties) at or below their rounding noise, estimated from the block scales stored; FACTOR scales that floor."
    )
    public static let allowMissing = Setting(
        "allow-missing", .flag, help: "Leave a source out of tensors it lacks instead of failing.")

    // MARK: Method options (recipes: under "options")

    public static let k = Setting("k", .integer(1...Int.max), help: "axis: components kept per matrix.")
    public static let kFraction = Setting(
        "k-fraction", .real(.closed(1e-9...1)), default: "\(AXISMerge.defaultFraction)",
        help: "axis: K as a fraction of min(m, n), rounded half up.")
    public static let exactSVD = Setting(
        "exact-svd", .flag, help: "axis, tsv: full SVD of every task vector instead of the randomized top K.")
    public static let ranking = Setting(
        "ranking", .choice(AXISMerge.Ranking.allCases.map(\.rawValue)), placeholder: "ORDER", default: "value",
        help:
            "axis: pool the components by singular value (value), or by their share of their own source's energy, sigma / ||Di||_F (normalized)."
    )
    public static let perSourceQuota = Setting(
        "per-source-quota", .flag,
        help: "axis: every source keeps its top floor(K / T) components; the ranking fills the other places.")
    public static let orthogonalize = Setting(
        "orthogonalize", .choice(AXISMerge.Orthogonalization.allCases.map(\.rawValue)), placeholder: "HOW",
        default: "svd",
        help:
            "axis: the kept components' sum re-orthogonalised exactly (svd), or their U and V columns first replaced by the nearest orthogonal matrices, as TSV-M does (tsv)."
    )
    public static let remainder = Setting(
        "remainder", .choice(AXISMerge.Remainder.allCases.map(\.rawValue)), placeholder: "WHAT", default: "none",
        help:
            "axis: also add TSV-M's update outside the K components' column space (tsv); its factors follow the K, so Stage 2 trains the K and keeps it frozen."
    )
    public static let lambda = Setting(
        "lambda", .real(.closed(-100...100)),
        help: "task_arithmetic (default 1 for one source, 0.3 otherwise), ties, dare (default 1): scale of the update.")
    public static let density = Setting(
        "density", .real(.closed(1e-9...1)), default: "\(TIESMerge.defaultDensity)",
        help: "ties: fraction of each task vector kept by magnitude.")
    public static let drop = Setting(
        "drop", .real(.closed(0...0.999_999)), placeholder: "P", default: "\(DAREMerge.defaultDrop)",
        help: "dare: probability of dropping each entry.")
    public static let dareTies = Setting(
        "dare-ties", .flag, help: "dare: combine with TIES sign election instead of a sum.")

    public static let parameter = Setting(
        "param", .text, placeholder: "NAME=VALUE", repeatable: true,
        help:
            "mergekit's methods (linear, slerp, nuslerp, multislerp, karcher, model_stock, sce, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della, della_linear): a parameter for every model and tensor (weight=0.5, t=0.3, density=0.6, normalize=false); repeatable. Per-model values, layer gradients and name filters: amalgam run with a mergekit YAML."
    )

    // MARK: Training

    public static let merged = Setting(
        "merged", .text, placeholder: "MERGED",
        help: "The merged model (every tensor without factors is taken from it).")
    public static let tuneBase = Setting(
        "base", .text, placeholder: "BASE",
        help: "The base model the sources were fine-tuned from (W0 of the merged matrices).")
    public static let tuneFactors = Setting(
        "factors", .text, placeholder: "FILE", help: "The factors file a merge wrote with --factors.")
    public static let data = Setting(
        "data", .text, placeholder: "DATA.npz",
        help: "Labelled data: x and y, or input_ids, attention_mask[, token_type_ids] and labels.")
    public static let eval = Setting(
        "eval", .text, placeholder: "TEST.npz", help: "Data to evaluate on after every epoch.")
    public static let tuneMode = Setting(
        "train", .choice(["sv", "head", "full"]), placeholder: "MODE", default: "sv",
        help: "sv: the top singular values of the merged matrices; head: the classification head; full: every weight.")
    public static let trainMode = Setting(
        "train", .choice(["full", "head"]), placeholder: "MODE", default: "full",
        advice: ["sv": "singular-value tuning is 'amalgam tune'"],
        help: "full: every weight; head: the classification head only (a linear probe).")
    public static let svFraction = Setting(
        "sv-fraction", .real(.openClosed(lower: 0, upper: 1)), default: "0.1",
        help: "Train the top round(F * min(m, n)) singular values of each matrix (capped at the factors' rank).")
    public static let svCount = Setting(
        "sv-count", .integer(1...Int.max), help: "Train the top N singular values of each matrix instead.")
    public static let svAllocation = Setting(
        "sv-allocation", .choice(SingularValueAllocation.allCases.map(\.rawValue)), placeholder: "HOW",
        default: "uniform",
        help:
            "uniform: N per matrix; energy: the same total to the components with the largest share of their matrix's update energy (each matrix at least one, at most its factors' rank)."
    )
    public static let svInit = Setting(
        "sv-init", .choice(["zero", "merged"]), placeholder: "START", default: "zero",
        help: "zero (the authors' reference: W = W0 + frozen rest) or merged (start from the merge's values).")
    public static let subspace = Setting(
        "subspace", .choice(StageTwoSubspace.allCases.map(\.rawValue)), placeholder: "FROM", default: "merge",
        help:
            "Stage 2's directions: merge (the merge's factors), base (the model's own top singular directions: Base+S2) or random (seeded orthonormal: Random+S2); with base or random, --base alone names the model."
    )
    public static let epochs = Setting(
        "epochs", .integer(0...Int.max), default: "\(TrainingOptions().epochs)", help: "Passes over the data.")
    public static let learningRate = Setting(
        "lr", .real(.closed(0...10)),
        default:
            "\(TuningSetup(mode: .singularValues).training.learningRate) for sv, \(TuningSetup(mode: .full).training.learningRate) otherwise",
        help: "AdamW learning rate.")
    public static let headLearningRate = Setting(
        "head-lr", .real(.closed(0...10)),
        default: "\(TuningSetup.stageTwoHeadLearningRate) for sv, --lr otherwise",
        help: "AdamW learning rate of the classification head.")
    public static let batch = Setting(
        "batch", .integer(1...Int.max), default: "\(TrainingOptions().batchSize)", help: "Examples per step.")
    public static let weightDecay = Setting(
        "weight-decay", .real(.closed(0...1)), default: "\(TrainingOptions().weightDecay)", help: "AdamW weight decay.")
    public static let clip = Setting(
        "clip", .real(.closed(1e-6...1e6)), default: "\(TrainingOptions().clipNorm)",
        help: "Clip the global gradient norm at F.")
    public static let earlyStopping = Setting(
        "early-stopping", .integer(1...Int.max), help: "Stop after N epochs without a better eval accuracy.")
    public static let log = Setting("log", .text, placeholder: "FILE", default: "OUT.log.json", help: "The JSON log.")
    public static let evalBatch = Setting(
        "batch", .integer(1...Int.max), default: "\(TunableModel.evaluationBatch)", help: "Examples per forward pass.")

    // MARK: The classifier (tune, train, eval, forward)

    public static let architecture = Setting(
        "arch", .choice(TuningArchitectures.names), placeholder: "ARCH",
        default: "from the model's metadata, then its tensor names", help: "The network to build.")
    public static let activation = Setting(
        "activation", .choice(["relu", "gelu", "gelu_tanh", "tanh"]), placeholder: "NAME",
        default: "the model's amalgam.activation, else relu",
        help: "mlp: the activation between layers (weights cannot tell).")
    public static let heads = Setting(
        "heads", .integer(1...Int.max), default: "num_attention_heads of config.json beside the model",
        help: "bert, vit: attention heads.")
    public static let pooling = Setting(
        "pooling", .choice(["mean", "cls", "pooler"]), placeholder: "KIND", default: "mean",
        help: "bert: mean, cls, or pooler (CLS through pooler.dense and tanh, as BertForSequenceClassification).")
    public static let labels = Setting(
        "labels", .integer(2...Int.max),
        default: "the model's head when the labels fit it, else the largest label plus one",
        help: "Number of classes.")

    // MARK: Other commands

    public static let verify = Setting(
        "verify", .flag,
        help:
            "Check completely: inspect reads every tensor (checksums, decompression) and counts NaN/Inf values; convert compares what it wrote with the input, within the output encoding's tolerance."
    )
    public static let strict = Setting(
        "strict", .flag,
        help:
            "Also report what readers tolerate but the reference writers never write: unaligned data, unsorted keys, trailing bytes, missing recommended keys, NaN/Inf values."
    )
    public static let absoluteTolerance = Setting(
        "atol", .real(.closed(0...1e300)), placeholder: "X", default: "0",
        help: "Absolute tolerance: values a of A and b of B agree when |a - b| <= atol + rtol * |b|.")
    public static let relativeTolerance = Setting(
        "rtol", .real(.closed(0...1e300)), placeholder: "Y", default: "0",
        help: "Relative tolerance (see --atol).")
    public static let tokenizer = Setting(
        "tokenizer", .text, placeholder: "FILE", help: "tokenizer.json (WordPiece, BERT normaliser) or vocab.txt.")
    public static let maximumLength = Setting(
        "max-length", .integer(3...100_000), placeholder: "N", default: "128",
        help: "Tokens per sequence at most, [CLS] and [SEP] included (longer texts are cut).")
    public static let reportPage = Setting(
        "output", .text, placeholder: "FILE.html", shortName: "o", help: "Where to write the page.")
    public static let demoFolder = Setting(
        "output", .text, placeholder: "DIR", default: ".build/demo",
        help: "Folder for the demo's files (the demo's own files in it are replaced; others are left alone).")

    // MARK: Sharded merges (Slurm, Kubernetes)
    public static let shard = Setting(
        "shard", .text, placeholder: "I/N",
        help:
            "Compute part I (0 to N-1) of the merge split into N parts of about equal cost, into --parts; 'amalgam assemble' writes the outputs from all N."
    )
    public static let parts = Setting(
        "parts", .text, placeholder: "DIR",
        help: "Folder for the parts of a sharded merge (tensors, factors and a manifest per part).")
    public static let partsZstd = Setting(
        "parts-zstd", .integer(1...22), placeholder: "LEVEL", help: "Compress the parts' tensor files with zstd.")
    public static let nodes = Setting(
        "nodes", .integer(1...100_000), placeholder: "N", help: "Parts to split the merge into: one task each.")
    public static let partition = Setting(
        "partition", .text, placeholder: "P", help: "Slurm partition for the tasks (sbatch --partition).")
    public static let timeLimit = Setting(
        "time", .text, placeholder: "T", help: "Slurm time limit per task (sbatch --time: 90, 1:30:00, 1-12).")
    public static let cpusPerTask = Setting(
        "cpus-per-task", .integer(1...4096), placeholder: "C",
        help: "CPUs each task asks for (sbatch --cpus-per-task; a merge uses what it is given).")
    public static let scripts = Setting(
        "scripts", .text, placeholder: "DIR", default: "the --parts folder",
        help: "Where to write the job scripts or manifests.")
    public static let submit = Setting("submit", .flag, help: "Submit the jobs with sbatch after writing them.")
    public static let wait = Setting(
        "wait", .flag, help: "With --submit: wait until the assemble job ends; exit 1 if it failed.")
    public static let image = Setting(
        "image", .text, placeholder: "IMAGE", help: "Container image with amalgam on its PATH.")
    public static let volumeClaim = Setting(
        "volume-claim", .text, placeholder: "NAME",
        help: "PersistentVolumeClaim holding the inputs and outputs, mounted at --mount in every pod.")
    public static let mountPath = Setting(
        "mount", .text, placeholder: "PATH", default: "/data",
        help: "Where the volume is mounted; the pods run there, so relative paths resolve in it.")
    public static let jobName = Setting(
        "job-name", .text, placeholder: "NAME", default: "amalgam-merge",
        help: "Name of the jobs (the assemble job adds -assemble).")
}
