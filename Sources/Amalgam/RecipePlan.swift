/// A recipe: the choices of `amalgam merge` in a JSON file, with several outputs and an
/// optional tuning stage. Its keys are the settings' recipe keys (`Setting.recipeKey`):
///
/// ```json
/// {
///   "base": "base.safetensors",
///   "sources": ["a.safetensors", "b.npz"],
///   "method": "axis",
///   "options": {"k": 76, "exact_svd": false},
///   "skip": ["*.embed_tokens.*"],
///   "allow_missing": false,
///   "seed": 0,
///   "threads": 8,
///   "outputs": [
///     {"path": "merged.safetensors"},
///     {"path": "merged.npz", "compress": true, "dtype": "f16"}
///   ],
///   "factors": "factors.safetensors",
///   "report": "report.json",
///   "tune": {"data": "target.npz", "eval": "target-test.npz", "sv_fraction": 0.1, "epochs": 10,
///            "outputs": [{"path": "tuned.safetensors"}, {"path": "tuned.onnx", "template": "base.onnx"}]}
/// }
/// ```
/// Relative paths are resolved against the recipe's folder. A key Amalgam does not know, or
/// a value it does not take, is a usage error naming the key's path (`tune.lr`).
public struct RecipePlan: Sendable {
    public var merge: MergeOptions
    public var tune: TuneOptions?
}
