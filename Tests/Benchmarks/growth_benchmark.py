"""How time and peak memory grow with model size and with the number of sources (issue 17).

Models: 1x, 2x and 4x blocks of ViT-B/32 MLP and attention shapes (768x768, 3072x768,
768x3072 and a 768 bias per block; 1x = BENCH_GROWTH_BLOCKS blocks, default 2), f32 safetensors,
a base and 16 fine-tunes (low-rank task vectors plus noise), generated once under
.build/bench/growth. For each size, an AXIS merge (K = 10%) and a task-arithmetic merge of the
first T = 2, 4, 8, 16 fine-tunes, and conversions to bf16 safetensors and Q4_K GGUF.
Printed: seconds and peak resident memory of each run, and each as a ratio against the
smallest run of its kind (1x, T = 2), beside the ratio a linear growth would give.
"""

import json
import os
import re
import struct
import subprocess
import time

import numpy as np

AMALGAM = os.environ.get("AMALGAM", ".build/release/amalgam")
FOLDER = os.path.join(os.environ.get("BENCH_DIR", ".build/bench"), "growth")
BLOCKS = int(os.environ.get("BENCH_GROWTH_BLOCKS", "2"))
SIZES = (1, 2, 4)
COUNTS = (2, 4, 8, 16)
SHAPES = {"attn.out_proj.weight": (768, 768), "mlp.c_fc.weight": (3072, 768), "mlp.c_proj.weight": (768, 3072),
          "mlp.c_fc.bias": (3072,)}


def write_safetensors(path, tensors):
    """A safetensors file written tensor by tensor (numpy arrays, f32)."""
    offsets, position = {}, 0
    for name, array in tensors.items():
        offsets[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [position, position + array.nbytes]}
        position += array.nbytes
    header = json.dumps(offsets)
    header += " " * (-len(header) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(header)) + header.encode())
        for array in tensors.values():
            file.write(np.ascontiguousarray(array, dtype=np.float32).tobytes())


def models(size):
    folder = os.path.join(FOLDER, f"{size}x-{BLOCKS}")
    marker = os.path.join(folder, "done")
    if os.path.exists(marker):
        return folder
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(size)
    names = [(f"blocks.{b}.{name}", shape) for b in range(BLOCKS * size) for name, shape in SHAPES.items()]
    base = {name: rng.standard_normal(shape, dtype=np.float32) * 0.02 for name, shape in names}
    write_safetensors(os.path.join(folder, "base.safetensors"), base)
    for source in range(max(COUNTS)):
        model = {}
        for name, shape in names:
            if len(shape) == 1:
                model[name] = base[name] + rng.standard_normal(shape, dtype=np.float32) * 1e-3
                continue
            left = rng.standard_normal((shape[0], 16), dtype=np.float32)
            right = rng.standard_normal((16, shape[1]), dtype=np.float32) * 0.002 * (1 + source % 4)
            model[name] = base[name] + left @ right / 4 + rng.standard_normal(shape, dtype=np.float32) * 1e-4
        write_safetensors(os.path.join(folder, f"source{source}.safetensors"), model)
    open(marker, "w").close()
    return folder


def measured(arguments):
    """(seconds, peak resident bytes) of one command, the peak as /usr/bin/time reads it (a child
    forked from this Python would count the parent's pages it held before exec)."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", *arguments], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(arguments)} failed: {result.stderr}")
    return seconds, int(re.search(r"MAXRSS (\d+)", result.stderr).group(1)) * 1024


def table(title, rows, linear):
    """rows: (label, size, count, seconds, peak); ratios against the first row."""
    print(f"\n== {title} ==")
    print(f"{'run':24} {'seconds':>8} {'x time':>7} {'peak MB':>8} {'x memory':>9} {'linear':>7}")
    _, size0, count0, seconds0, peak0 = rows[0]
    for label, size, count, seconds, peak in rows:
        print(f"{label:24} {seconds:8.2f} {seconds / seconds0:7.2f} {peak / 1e6:8.0f} {peak / peak0:9.2f} "
              f"{linear(size, count) / linear(size0, count0):7.2f}")


def main():
    folders = {size: models(size) for size in SIZES}
    output = os.path.join(FOLDER, "out")
    os.makedirs(output, exist_ok=True)
    model_mb = {size: os.path.getsize(os.path.join(folders[size], "base.safetensors")) / 1e6 for size in SIZES}
    print(f"models: {', '.join(f'{s}x = {model_mb[s]:.0f} MB' for s in SIZES)} (f32); largest tensor "
          f"{3072 * 768 * 4 / 1e6:.1f} MB at every size")
    for method, extra in (("axis", ["--k-fraction", "0.1"]), ("task_arithmetic", [])):
        rows = []
        for size in SIZES:
            for count in COUNTS:
                folder = folders[size]
                command = [AMALGAM, "merge", "--base", os.path.join(folder, "base.safetensors"), "--method", method]
                for source in range(count):
                    command += ["--source", os.path.join(folder, f"source{source}.safetensors")]
                command += [*extra, "--output", os.path.join(output, "merged.safetensors"), "--force"]
                seconds, peak = measured(command)
                rows.append((f"{size}x, T = {count}", size, count, seconds, peak))
        table(f"merge --method {method}: growth with model size and T (linear: size x T)", rows,
              lambda size, count: size * count)
    for label, target, options in (("bf16 safetensors", "converted.safetensors", ["--dtype", "bf16"]),
                                   ("Q4_K GGUF", "converted.gguf", ["--quant", "q4_k"])):
        rows = []
        for size in SIZES:
            seconds, peak = measured([AMALGAM, "convert", os.path.join(folders[size], "base.safetensors"),
                                      os.path.join(output, target), *options, "--force"])
            rows.append((f"{size}x", size, 1, seconds, peak))
        table(f"convert to {label}: growth with model size (linear: size)", rows, lambda size, count: size)


if __name__ == "__main__":
    main()
