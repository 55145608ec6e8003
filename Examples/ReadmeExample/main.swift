import Amalgam

var merge = MergeOptions(
    base: "classifier-base.safetensors", sources: ["classifier-a.safetensors", "classifier-b.safetensors"],
    method: AXISMerge(count: 4), outputs: [ModelOutput(path: "merged.safetensors")])
merge.factors = "factors.safetensors"
print(try Amalgam.merge(merge).files)
var tune = TuneOptions(
    model: "merged.safetensors", data: "train.npz", setup: TuningSetup(mode: .singularValues),
    outputs: [ModelOutput(path: "tuned.safetensors"), ModelOutput(path: "tuned.gguf")])
(tune.base, tune.factors) = ("classifier-base.safetensors", "factors.safetensors")
print(try Amalgam.tune(tune).records.map(\.trainAccuracy))
