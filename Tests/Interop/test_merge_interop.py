"""Merges checked against reference computations in numpy: mergekit's TIES and task
arithmetic formulas (PLATFORM.md) bit for bit on f32, and AXIS against a straightforward
full-SVD implementation."""

import json

import numpy as np
import pytest
from helpers import amalgam
from safetensors.numpy import load_file, save_file

NAMES = ["model.layers.0.mlp.up_proj.weight", "model.layers.0.self_attn.q_proj.weight", "model.norm.weight"]
SHAPES = {NAMES[0]: (48, 32), NAMES[1]: (32, 32), NAMES[2]: (32,)}


def make_models(tmp_path, count, low_rank=False, seed=0):
    rng = np.random.default_rng(seed)
    base = {n: rng.standard_normal(s).astype(np.float32) for n, s in SHAPES.items()}
    save_file(base, str(tmp_path / "base.safetensors"))
    paths = []
    for i in range(count):
        model = {}
        for name, shape in SHAPES.items():
            if low_rank and len(shape) == 2:
                u = rng.standard_normal((shape[0], 4)) * (i + 1)
                v = rng.standard_normal((4, shape[1]))
                delta = (u @ v / 10 + 1e-3 * rng.standard_normal(shape)).astype(np.float32)
            else:
                delta = (0.1 * rng.standard_normal(shape)).astype(np.float32)
            model[name] = (base[name] + delta).astype(np.float32)
        path = tmp_path / f"s{i}.safetensors"
        save_file(model, str(path))
        paths.append(path)
    return base, [load_file(str(p)) for p in paths], paths


def run_merge(tmp_path, paths, *options):
    out = tmp_path / "merged.safetensors"
    args = ["merge", "--base", str(tmp_path / "base.safetensors")]
    for p in paths:
        args += ["--source", str(p)]
    amalgam(*args, "--output", str(out), "--force", *options)
    return load_file(str(out))


def mergekit_ties(base, models, density, lam):
    """mergekit's TIES in f32 with unit weights: magnitude trim (top floor(density*n) by
    |value|), sign = sum >= 0, disjoint mean, lambda."""
    deltas = []
    for model in models:
        delta = (model - base).astype(np.float32)
        k = int(density * delta.size)
        flat = delta.reshape(-1)
        keep = np.argsort(-np.abs(flat), kind="stable")[:k]
        mask = np.zeros(flat.size, dtype=np.float32)
        mask[keep] = 1
        deltas.append((flat * mask).reshape(delta.shape))
    stacked = np.stack(deltas)  # f32
    sign = np.where(stacked.sum(axis=0) >= 0, np.float32(1), np.float32(-1))
    agree = np.sign(stacked) == sign
    mixed = (stacked * agree).sum(axis=0)
    divisor = agree.astype(np.float32).sum(axis=0)
    divisor[divisor == 0] = 1
    return base + np.float32(lam) * (mixed / divisor)


def test_ties_matches_mergekit_formula_bit_for_bit(tmp_path):
    base, models, paths = make_models(tmp_path, 3)
    merged = run_merge(tmp_path, paths, "--method", "ties", "--density", "0.3", "--lambda", "0.8")
    for name in NAMES:
        expected = mergekit_ties(base[name], [m[name] for m in models], 0.3, 0.8).astype(np.float32)
        assert merged[name].tobytes() == expected.tobytes(), name


def test_task_arithmetic_matches_mergekit_formula_bit_for_bit(tmp_path):
    base, models, paths = make_models(tmp_path, 4)
    merged = run_merge(tmp_path, paths, "--method", "task_arithmetic", "--lambda", "0.3")
    for name in NAMES:
        deltas = np.stack([(m[name] - base[name]).astype(np.float32) for m in models])
        expected = base[name] + np.float32(0.3) * deltas.sum(axis=0)
        assert merged[name].tobytes() == expected.astype(np.float32).tobytes(), name


def test_dare_is_deterministic_under_a_seed(tmp_path):
    base, models, paths = make_models(tmp_path, 2)
    first = run_merge(tmp_path, paths, "--method", "dare", "--drop", "0.5", "--seed", "11")
    second = run_merge(tmp_path, paths, "--method", "dare", "--drop", "0.5", "--seed", "11")
    other = run_merge(tmp_path, paths, "--method", "dare", "--drop", "0.5", "--seed", "12")
    for name in NAMES:
        assert first[name].tobytes() == second[name].tobytes()
    assert any(first[n].tobytes() != other[n].tobytes() for n in NAMES)


@pytest.mark.parametrize("exact", [False, True])
def test_axis_matches_full_svd_reference(tmp_path, exact):
    base, models, paths = make_models(tmp_path, 3, low_rank=True, seed=4)
    k = 6
    options = ["--k", str(k), "--report", str(tmp_path / "report.json")] + (["--exact-svd"] if exact else [])
    merged = run_merge(tmp_path, paths, *options)
    report = {t["name"]: t for t in json.loads((tmp_path / "report.json").read_text())["tensors"]}
    for name in NAMES[:2]:
        pool = []
        for source, model in enumerate(models):
            u, s, vt = np.linalg.svd((model[name] - base[name]).astype(np.float64), full_matrices=False)
            pool += [(s[i], source, i, u[:, i], vt[i]) for i in range(len(s))]
        pool.sort(key=lambda c: (-c[0], c[1], c[2]))  # stable: source, then index
        top = pool[:k]
        update = sum(c[0] * np.outer(c[3], c[4]) for c in top)
        got = merged[name].astype(np.float64) - base[name]
        assert np.linalg.norm(got - update) / np.linalg.norm(update) < 1e-4
        counts = [sum(1 for c in top if c[1] == s) for s in range(3)]
        assert report[name]["components_per_source"] == counts
    # The 1-D tensor gets the mean task vector.
    mean = base[NAMES[2]] + np.mean([m[NAMES[2]] - base[NAMES[2]] for m in models], axis=0)
    assert np.allclose(merged[NAMES[2]], mean, rtol=0, atol=1e-6)


# ---------------------------------------------------------------- mixed formats

GGUF_NAMES = {NAMES[0]: "blk.0.ffn_up.weight", NAMES[1]: "blk.0.attn_q.weight", NAMES[2]: "output_norm.weight"}
HEADS = 4


def rotary_permute(w, heads):
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_llama_gguf(path, model, qtype):
    """A gguf-py file with llama names, Q permuted as convert_hf_to_gguf does; 2-D weights
    in `qtype` (F16 or Q8_0), vectors in F32. Returns the values it actually holds."""
    import gguf
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_uint32("llama.attention.head_count", HEADS)
    writer.add_uint32("llama.attention.head_count_kv", HEADS)
    held = {}
    for name, values in model.items():
        stored = rotary_permute(values, HEADS) if name == NAMES[1] else values
        if values.ndim == 1:
            writer.add_tensor(GGUF_NAMES[name], stored)
            held[name] = values
        elif qtype == "F16":
            writer.add_tensor(GGUF_NAMES[name], stored.astype(np.float16))
            held[name] = values.astype(np.float16).astype(np.float32)
        else:
            blocks = gguf.quants.quantize(stored, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(GGUF_NAMES[name], blocks, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
            decoded = gguf.quants.dequantize(blocks, gguf.GGMLQuantizationType.Q8_0)
            held[name] = decoded.reshape(values.shape) if name != NAMES[1] else \
                decoded.reshape(HEADS, values.shape[0] // HEADS // 2, 2, -1).swapaxes(1, 2).reshape(values.shape)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return held


def write_torchscript_onnx(path, model):
    """An ONNX graph shaped like a TorchScript export: the Linear weights stored transposed,
    [in, out], as `onnx::MatMul_N` initializers that MatMul nodes named after the layers
    read; the norm keeps its state_dict name."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes, initializers = [], []
    for index, name in enumerate(NAMES[:2]):
        layer = name[: -len(".weight")]
        stored = f"onnx::MatMul_{100 + index}"
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(model[name].T), stored))
        nodes.append(helper.make_node("MatMul", [f"x{index}", stored], [f"y{index}"], name="/" + layer.replace(".", "/").replace("layers/0", "layers.0") + "/MatMul"))
    initializers.append(numpy_helper.from_array(model[NAMES[2]], NAMES[2]))
    nodes.append(helper.make_node("Mul", ["y0", NAMES[2]], ["z"], name="/model/norm/Mul"))
    inputs = [helper.make_tensor_value_info("x0", TensorProto.FLOAT, [1, 32]), helper.make_tensor_value_info("x1", TensorProto.FLOAT, [1, 32])]
    outputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, None), helper.make_tensor_value_info("y1", TensorProto.FLOAT, None)]
    graph = helper.make_graph(nodes, "main_graph", inputs, outputs, initializer=initializers)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.mark.parametrize("method", [("axis", "--k", "3"), ("ties", "--density", "0.5"), ("task_arithmetic", "--lambda", "0.7"), ("average",)],
                         ids=lambda m: m[0])
def test_mixed_format_sources_merge_like_safetensors(tmp_path, method):
    base, models, paths = make_models(tmp_path, 5, low_rank=True, seed=5)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "num_attention_heads": HEADS, "num_key_value_heads": HEADS}))
    np.savez(tmp_path / "s1.npz", **models[1])
    held_f16 = write_llama_gguf(tmp_path / "s2-f16.gguf", models[2], "F16")
    held_q8 = write_llama_gguf(tmp_path / "s3-q8_0.gguf", models[3], "Q8_0")
    write_torchscript_onnx(tmp_path / "s4.onnx", models[4])
    mixed = run_merge(tmp_path, [paths[0], tmp_path / "s1.npz", tmp_path / "s2-f16.gguf", tmp_path / "s3-q8_0.gguf", tmp_path / "s4.onnx"], "--method", *method)
    for index, held in [(2, held_f16), (3, held_q8)]:
        save_file(held, str(tmp_path / f"same{index}.safetensors"))
    same = run_merge(tmp_path, [paths[0], paths[1], tmp_path / "same2.safetensors", tmp_path / "same3.safetensors", paths[4]], "--method", *method)
    original = run_merge(tmp_path, paths, "--method", *method)
    for name in NAMES:
        # Exactly the merge of the values the files hold...
        assert mixed[name].tobytes() == same[name].tobytes(), name
        # ...which is within the f16 / Q8_0 rounding of the all-f32 merge (TIES's magnitude
        # trim and sign election are discontinuous, so rounding may flip its choices).
        if method[0] != "ties":
            scale = np.abs(original[name]).max()
            assert np.abs(mixed[name] - original[name]).max() <= 2e-2 * scale, name


def test_merge_writes_quantised_gguf(tmp_path):
    import gguf
    base, models, paths = make_models(tmp_path, 2, seed=8)
    merged_f32 = run_merge(tmp_path, paths, "--method", "average")
    # The base as a Hugging Face folder: its config.json (llama, head counts) is its own.
    (tmp_path / "hf").mkdir()
    save_file(base, str(tmp_path / "hf" / "model.safetensors"))
    (tmp_path / "hf" / "config.json").write_text(json.dumps({"model_type": "llama", "num_attention_heads": HEADS, "num_key_value_heads": HEADS}))
    out = tmp_path / "merged.gguf"
    amalgam("merge", "--base", str(tmp_path / "hf"), "--source", str(paths[0]), "--source", str(paths[1]),
            "--method", "average", "--output", str(out), "--quant", "q8_0")
    reader = gguf.GGUFReader(str(out))
    tensors = {t.name: t for t in reader.tensors}
    assert sorted(tensors) == sorted(GGUF_NAMES.values())
    assert bytes(reader.fields["general.architecture"].parts[-1]).decode() == "llama"
    for name, gguf_name in GGUF_NAMES.items():
        tensor = tensors[gguf_name]
        expected = merged_f32[name]
        if expected.ndim == 1:
            assert tensor.tensor_type == gguf.GGMLQuantizationType.F32
            assert np.asarray(tensor.data).tobytes() == expected.tobytes()
        else:
            if name == NAMES[1]:
                expected = rotary_permute(expected, HEADS)
            assert tensor.tensor_type == gguf.GGMLQuantizationType.Q8_0
            assert np.asarray(tensor.data).tobytes() == gguf.quants.quantize(expected, gguf.GGMLQuantizationType.Q8_0).tobytes()
