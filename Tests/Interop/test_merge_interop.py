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
