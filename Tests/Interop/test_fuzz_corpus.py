"""The fuzzing corpora (Tests/Fuzz/TARGET: seeds, and every input libFuzzer found a fault with,
named crash-/leak-/oom-...) replayed through the CLI (reports through `amalgam report`): a seed reads (exit 0); a fault file reads or
fails with one line; nothing ever dies of a signal. scripts/fuzz.sh runs the fuzzers themselves."""

import os

import pytest
from helpers import amalgam

CORPORA = os.path.join(os.path.dirname(__file__), "..", "Fuzz")
FORMATS = ["safetensors", "gguf", "onnx", "npy", "npz", "pytorch"]
CASES = [(target, name) for target in sorted(os.listdir(CORPORA)) if os.path.isdir(os.path.join(CORPORA, target))
         for name in sorted(os.listdir(os.path.join(CORPORA, target)))]
FAULT = ("crash-", "leak-", "oom-", "timeout-", "slow-unit-")


@pytest.mark.parametrize("target,name", CASES, ids=[f"{t}/{n}" for t, n in CASES])
def test_corpus_file_replays(target, name, tmp_path):
    path = os.path.join(CORPORA, target, name)
    if target in FORMATS:
        result = amalgam("inspect", "--verify", "--from", target, path, check=False)
        allowed = (0, 1) if name.startswith(FAULT) else (0,)
    elif target == "report":  # through amalgam report: a seed renders, anything else renders or fails in one line
        result = amalgam("report", path, "-o", str(tmp_path / "page.html"), check=False)
        allowed = (0, 1) if name.startswith(FAULT) else (0,)
    else:  # json, recipe, yaml: through the recipe runner, which parses them (and plans nothing here)
        result = amalgam("run", path, "--dry-run", check=False)
        allowed = (0, 1, 64)
    assert result.returncode in allowed, result.stderr
    if result.returncode != 0:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_every_target_has_a_corpus():
    assert sorted(t for t in os.listdir(CORPORA) if os.path.isdir(os.path.join(CORPORA, t))) == sorted(
        FORMATS + ["json", "recipe", "report", "yaml"])
