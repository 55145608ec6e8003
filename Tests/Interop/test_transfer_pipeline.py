"""The model zoo and the transfer benchmark end to end, at the test size: the zoo is
deterministic and its files load in the reference libraries; the benchmark runs (1 seed, 2
targets, 3 methods) and Stage 2 beats the linear probe; the demo's exports load and run
(onnxruntime gives Amalgam's accuracy); bad data fails with one line and writes nothing."""

import filecmp
import json
import os
import shutil

import numpy as np
import onnx
import onnxruntime
import pytest
from gguf import GGUFReader
from helpers import ROOT, amalgam
from safetensors import safe_open
from safetensors.numpy import save_file

DIGITS = os.path.abspath(os.path.join(ROOT, ".build", "data", "digits.csv.gz"))


def build(folder, family="mlp", seed="0"):
    amalgam("zoo", "build", str(folder), "--family", family, "--size", "test", "--seed", seed, "--digits", DIGITS)
    return json.load(open(folder / "manifest.json"))


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo") / "mlp"
    return folder, build(folder)


def onnx_accuracy(path, data):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"x": data["x"]})[0]
    return int((logits.argmax(axis=1) == data["y"]).sum())


def test_zoo_is_byte_identical_across_builds(zoo, tmp_path):
    folder, manifest = zoo
    again = tmp_path / "again"
    assert build(again) == manifest
    files = sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, names in os.walk(folder) for f in names)
    assert len(files) == 1 + 1 + 8 + 16
    for name in files:
        assert filecmp.cmp(folder / name, again / name, shallow=False), name
    other = tmp_path / "other"
    build(other, seed="1")
    assert (other / "base.safetensors").read_bytes() != (folder / "base.safetensors").read_bytes()


def test_zoo_files_load_in_reference_libraries(zoo):
    folder, manifest = zoo
    assert manifest["family"] == "mlp" and len(manifest["tasks"]) == 8
    storages = {task["storage"] for task in manifest["tasks"]}
    assert storages == {"safetensors", "gguf F16", "gguf Q8_0", "onnx", "npz"}
    with safe_open(str(folder / "base.safetensors"), framework="numpy") as f:
        base = {name: f.get_tensor(name) for name in f.keys()}
    assert base["layers.0.weight"].shape == (256, 784) and base["classifier.weight"].shape == (4, 256)
    for task in manifest["tasks"]:
        path = folder / task["source"]
        test = np.load(folder / task["test"])
        train = np.load(folder / task["train"])
        for data in (train, test):
            assert data["x"].dtype == np.float32 and data["x"].shape[1:] == (1, 28, 28)
            assert data["y"].dtype == np.int64 and 0 <= data["y"].min() and data["y"].max() < task["classes"]
        head = (task["classes"], 256)
        if task["storage"] == "safetensors":
            with safe_open(str(path), framework="numpy") as f:
                assert f.get_tensor("classifier.weight").shape == head
        elif task["storage"].startswith("gguf"):
            reader = GGUFReader(str(path))
            types = {t.name: t.tensor_type.name for t in reader.tensors}
            expected = "Q8_0" if task["storage"] == "gguf Q8_0" else "F16"
            assert types["layers.2.weight"] == expected and types["layers.0.bias"] == "F32"
        elif task["storage"] == "onnx":
            model = onnx.load(str(path))
            onnx.checker.check_model(model)
            # The MLP's graph runs: onnxruntime's accuracy is the one Amalgam measured when it trained it.
            correct = onnx_accuracy(path, test)
            assert abs(correct - round(task["source_accuracy"] * len(test["y"]))) <= 1
        else:
            arrays = np.load(path)
            assert arrays["classifier.weight"].shape == head and arrays["layers.0.weight"].dtype == np.float32


def test_bench_runs_end_to_end_and_stage_two_beats_the_probe(zoo, tmp_path):
    folder, _ = zoo
    report = tmp_path / "report.md"
    result = amalgam(
        "bench", "transfer", "--zoo", str(folder), "--target", "fashion", "--target", "digits",
        "--method", "axis", "--method", "base", "--method", "linear-probe", "--seeds", "1", "--fraction", "0.1",
        "--no-robustness", "--no-sweep", "--steps", "120", "--report", str(report), "--cache", str(tmp_path / "cache"))
    assert "| AXIS |" in result.stdout and report.exists()
    document = json.load(open(tmp_path / "report.json"))
    runs = document["runs"]
    assert len(runs) == 6 and document["schema"] == "amalgam.transfer-benchmark/1"
    accuracy = {(run["target"], run["method"]): float(run["accuracy"]) for run in runs}
    for target in ("fashion", "digits"):
        assert accuracy[(target, "axis")] > accuracy[(target, "linear-probe")], accuracy
    # A second run takes every result from the cache.
    again = amalgam(
        "bench", "transfer", "--zoo", str(folder), "--target", "fashion", "--target", "digits",
        "--method", "axis", "--method", "base", "--method", "linear-probe", "--seeds", "1", "--fraction", "0.1",
        "--no-robustness", "--no-sweep", "--steps", "120", "--report", str(report), "--cache", str(tmp_path / "cache"),
        "--force")
    assert "6 runs: 6 in the cache" in again.stdout
    assert json.load(open(tmp_path / "report.json"))["runs"] == runs


def test_demo_exports_load_and_run(zoo, tmp_path):
    folder, _ = zoo
    out = tmp_path / "demo"
    result = amalgam("demo", "--zoo", str(folder), "--output", str(out), "--steps", "60", "--threads", "1")
    assert "AXIS + Stage 2" in result.stdout and "Base + Stage 2" in result.stdout
    summary = json.load(open(out / "demo.json"))
    test = np.load(summary["test"])
    with safe_open(str(out / "tuned.safetensors"), framework="numpy") as f:
        assert f.get_tensor("classifier.weight").shape == (10, 256)
    types = {t.name: t.tensor_type.name for t in GGUFReader(str(out / "tuned-q8_0.gguf")).tensors}
    assert types["layers.2.weight"] == "Q8_0" and types["layers.0.weight"] == "F16"
    onnx.checker.check_model(onnx.load(str(out / "tuned.onnx")))
    amalgam_onnx = next(e for e in summary["exports"] if e["path"].endswith(".onnx"))
    correct = onnx_accuracy(out / "tuned.onnx", test)
    assert abs(correct - round(amalgam_onnx["accuracy"] * len(test["y"]))) <= 1
    axis = next(row for row in summary["rows"] if row["method"] == "AXIS + Stage 2")
    assert abs(amalgam_onnx["accuracy"] - axis["accuracy"]) < 1e-9
    # The AXIS merge's and its tuning's pages, beside the models.
    for page in ("merge-axis.html", "merge-average.html", "tuned.html"):
        assert (out / page).read_text().startswith("<!DOCTYPE html>"), page


def bench_fails(folder, tmp_path):
    report = tmp_path / "bad.md"
    result = amalgam(
        "bench", "transfer", "--zoo", str(folder), "--target", "digits", "--method", "linear-probe", "--seeds", "1",
        "--no-robustness", "--no-sweep", "--report", str(report), check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert not report.exists() and not (tmp_path / "bad.json").exists()
    assert not os.path.exists(folder / "transfer-cache")
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_bad_data_fails_with_one_line(zoo, tmp_path):
    folder, _ = zoo
    bad = tmp_path / "bad-labels"
    shutil.copytree(folder, bad)
    data = dict(np.load(bad / "data" / "digits-test.npz"))
    data["y"][3] = 12
    np.savez(bad / "data" / "digits-test.npz", **data)
    assert bench_fails(bad, tmp_path) == (
        f"amalgam bench: error: {bad}/data/digits-test.npz: label 12 at example 3 is out of range for 10 classes")

    shapes = tmp_path / "bad-shapes"
    shutil.copytree(folder, shapes)
    data = dict(np.load(shapes / "data" / "digits-train.npz"))
    data["x"] = data["x"][:, :, :27, :27].copy()
    np.savez(shapes / "data" / "digits-train.npz", **data)
    assert bench_fails(shapes, tmp_path) == (
        f"amalgam bench: error: {shapes}/data/digits-train.npz: has 729 features per example; "
        "the model's first layer takes 784")

    other = tmp_path / "other-architecture"
    shutil.copytree(folder, other)
    # A ViT's state dict in place of one of the MLP fine-tunes.
    rng = np.random.default_rng(0)
    vit = {
        "vit.embeddings.cls_token": rng.standard_normal((1, 1, 64), np.float32),
        "vit.embeddings.patch_embeddings.projection.weight": rng.standard_normal((64, 1, 7, 7), np.float32),
        "vit.encoder.layer.0.attention.attention.query.weight": rng.standard_normal((64, 64), np.float32),
        "classifier.weight": rng.standard_normal((10, 64), np.float32),
    }
    save_file(vit, str(other / "sources" / "fashion.safetensors"))
    assert bench_fails(other, tmp_path) == (
        f"amalgam bench: error: {other}/sources/fashion.safetensors: has no tensor 'layers.0.bias' of the base: "
        "not a fine-tune of this zoo's base")
