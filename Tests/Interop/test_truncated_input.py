"""An input truncated by another process while Amalgam reads it (issue 16, item 4).

The file is mapped; pages past its new end raise SIGBUS when touched. Each command is run on
a fresh copy that is truncated at points spread over the command's running time: it must
either finish (the truncation came too late) or exit 1 with one error line naming the file
("the file changed while being read") — never die of a signal — and write nothing.
"""

import os
import shutil
import subprocess
import time

import numpy as np
import pytest
from safetensors.numpy import save_file

from helpers import AMALGAM

POINTS = 6
# Truncated during the read, or (at the earliest points) before the header was checked.
MESSAGES = ("the file changed while being read: it was", "run past the end of the data section")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("truncate")
    rng = np.random.default_rng(0)
    path = folder / "model.safetensors"
    weights = {f"layers.{i}.weight": rng.standard_normal((1024, 4096)).astype(np.float32) for i in range(8)}
    save_file(weights, str(path))
    for index in (1, 2):
        save_file({name: value + np.float32(index) for name, value in weights.items()}, str(folder / f"source{index}.safetensors"))
    return path


COMMANDS = {
    "convert-gguf": lambda src, out, others: ["convert", src, out + ".gguf", "--dtype", "f16"],
    "convert-q8_0": lambda src, out, others: ["convert", src, out + ".gguf", "--quant", "q8_0"],
    "convert-npz": lambda src, out, others: ["convert", src, out + ".npz"],
    "convert-bf16": lambda src, out, others: ["convert", src, out + ".safetensors", "--dtype", "bf16"],
    "convert-onnx": lambda src, out, others: ["convert", src, out + ".onnx"],
    "merge": lambda src, out, others: ["merge", "--base", src, "--source", others[0], "--source", others[1], "--method", "average",
                               "--output", out + ".safetensors"],
    "inspect": lambda src, out, others: ["inspect", src, "--verify"],
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_truncation_under_the_reader_is_an_error_not_a_crash(model, tmp_path, name):
    work = tmp_path / "input.safetensors"
    out = tmp_path / "out" / "result"
    shutil.copy(model, work)
    others = [str(model.parent / f"source{index}.safetensors") for index in (1, 2)]
    arguments = COMMANDS[name](str(work), str(out), others)
    started = time.monotonic()
    subprocess.run([AMALGAM, *arguments, "--force"] if name != "inspect" else [AMALGAM, *arguments],
                   check=True, capture_output=True)
    duration = time.monotonic() - started
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
    failed = 0
    for point in range(POINTS):
        shutil.copy(model, work)
        process = subprocess.Popen([AMALGAM, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(duration * (point + 0.5) / POINTS * 0.8)
        os.truncate(work, os.path.getsize(model) // 3)
        _, stderr = process.communicate()
        assert process.returncode in (0, 1), (point, process.returncode, stderr)
        if process.returncode == 1:
            failed += 1
            errors = [line for line in stderr.splitlines() if ": error: " in line]
            assert len(errors) == 1 and f"{work}: " in errors[0] and any(m in errors[0] for m in MESSAGES), stderr
            assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out"), os.listdir(tmp_path / "out")
        shutil.rmtree(tmp_path / "out", ignore_errors=True)
    assert failed >= 1, "no truncation landed while the command ran"
