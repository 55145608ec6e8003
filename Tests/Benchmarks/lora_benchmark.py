"""LoRA adapters as merge sources: an AXIS (and TSV-M) merge of three PEFT adapters, which takes
their factors B·A and never builds an m x n task vector, against the same merge of the three
dense fine-tunes W0 + scale·B·A (the only way to merge adapters in tools that need full models),
on the same machine in one script. Reported: seconds, peak resident memory, their ratios, and the
largest difference between the two merged models.

Shapes: one llama-7B-like layer at half width [BENCH_LORA_WIDTH, default 2048]: q, k, v, o
(W x W) and gate, up (2.75W x W), down (W x 2.75W); adapters of rank 16 on every matrix.
"""

import json
import os
import re
import subprocess
import time

import numpy as np
from safetensors.numpy import load_file, save_file

AMALGAM = os.environ.get("AMALGAM", ".build/release/amalgam")
FOLDER = os.path.join(os.environ.get("BENCH_DIR", ".build/bench"), "lora")
WIDTH = int(os.environ.get("BENCH_LORA_WIDTH", "2048"))
RANK = 16
SOURCES = 3


def shapes():
    wide = int(WIDTH * 2.75)
    names = {"self_attn.q_proj": (WIDTH, WIDTH), "self_attn.k_proj": (WIDTH, WIDTH),
             "self_attn.v_proj": (WIDTH, WIDTH), "self_attn.o_proj": (WIDTH, WIDTH),
             "mlp.gate_proj": (wide, WIDTH), "mlp.up_proj": (wide, WIDTH), "mlp.down_proj": (WIDTH, wide)}
    return {f"model.layers.0.{name}": shape for name, shape in names.items()}


def make_inputs():
    os.makedirs(FOLDER, exist_ok=True)
    marker = os.path.join(FOLDER, f"done-{WIDTH}")
    if os.path.exists(marker):
        return
    rng = np.random.default_rng(0)
    base = {f"{name}.weight": rng.standard_normal(shape, dtype=np.float32) * 0.02 for name, shape in shapes().items()}
    base["model.norm.weight"] = np.ones(WIDTH, np.float32)
    save_file(base, os.path.join(FOLDER, "base.safetensors"), metadata={"format": "pt"})
    for i in range(SOURCES):
        folder = os.path.join(FOLDER, f"adapter{i}")
        os.makedirs(folder, exist_ok=True)
        tensors = {}
        dense = dict(base)
        scale = 32 / RANK
        for name, (m, n) in shapes().items():
            a = rng.standard_normal((RANK, n), dtype=np.float32) * 0.01
            b = rng.standard_normal((m, RANK), dtype=np.float32) * 0.01 * (1 + i)
            tensors[f"base_model.model.{name}.lora_A.weight"] = a
            tensors[f"base_model.model.{name}.lora_B.weight"] = b
            dense[f"{name}.weight"] = base[f"{name}.weight"] + scale * (b @ a)
        save_file(tensors, os.path.join(folder, "adapter_model.safetensors"))
        json.dump({"peft_type": "LORA", "r": RANK, "lora_alpha": 32, "target_modules": ["q_proj", "k_proj", "v_proj",
                   "o_proj", "gate_proj", "up_proj", "down_proj"]}, open(os.path.join(folder, "adapter_config.json"), "w"))
        save_file(dense, os.path.join(FOLDER, f"dense{i}.safetensors"), metadata={"format": "pt"})
    open(marker, "w").close()


def merge(label, sources, method):
    out = os.path.join(FOLDER, f"merged-{label}.safetensors")
    command = ["/usr/bin/time", "-f", "MAXRSS %M", AMALGAM, "merge", "--base", os.path.join(FOLDER, "base.safetensors"),
               "--method", method, "--output", out, "--force"]
    for source in sources:
        command += ["--source", source]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    return seconds, int(re.search(r"MAXRSS (\d+)", result.stderr).group(1)) * 1024, out


def main():
    make_inputs()
    largest = max(m * n for m, n in shapes().values()) * 4
    print(f"LoRA sources: {SOURCES} adapters of rank {RANK} on one layer of width {WIDTH} "
          f"(7 matrices, largest {largest / 2**20:.0f} MiB in f32), against their dense fine-tunes")
    print(f"{'method':<6} {'sources':<9} {'seconds':>8} {'peak MiB':>9} {'peak / largest tensor':>22}")
    for method in ["axis", "tsv"]:
        rows = {}
        for label, sources in [("adapters", [os.path.join(FOLDER, f"adapter{i}") for i in range(SOURCES)]),
                               ("dense", [os.path.join(FOLDER, f"dense{i}.safetensors") for i in range(SOURCES)])]:
            seconds, peak, out = merge(f"{method}-{label}", sources, method)
            rows[label] = (seconds, peak, load_file(out))
            print(f"{method:<6} {label:<9} {seconds:>8.2f} {peak / 2**20:>9.0f} {peak / largest:>22.2f}")
        (ts, ps, a), (td, pd, d) = rows["adapters"], rows["dense"]
        difference = max(float(np.abs(a[k] - d[k]).max()) for k in a)
        print(f"{method:<6} adapters / dense: time {ts / td:.3f}x, peak memory {ps / pd:.3f}x; "
              f"largest difference of the merged weights {difference:.2e}")


if __name__ == "__main__":
    main()
