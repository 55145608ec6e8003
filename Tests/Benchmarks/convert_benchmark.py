"""Conversion throughput of `amalgam convert` against reference runs on the same file.

Run by `make bench`. Builds a 1 GB F32 safetensors file (16 tensors of 4096 x 4096), warms
the page cache, and times each command a few times (median). Printed ratios compare each
run with `cp` of the same file (plain, and followed by an fsync of the copy, since
Amalgam fsyncs its outputs) and with the Python reference doing the same job.

Two passes: outputs on the project's disk (what a user sees; dominated by writeback and
noisy on a shared virtual disk) and outputs on tmpfs (/dev/shm, where fsync is free, so
the figures measure the tools' own work).

Environment: AMALGAM (the executable), BENCH_DIR (default .build/bench),
BENCH_REPEATS (default 5), BENCH_TENSORS (default 16, each 64 MiB).
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

import ml_dtypes
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

AMALGAM = os.environ.get("AMALGAM", ".build/release/amalgam")
FOLDER = os.environ.get("BENCH_DIR", ".build/bench")
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
TENSORS = int(os.environ.get("BENCH_TENSORS", "16"))


def timed(action):
    samples = []
    for _ in range(REPEATS):
        cleanup()
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    cleanup()
    return statistics.median(samples)


OUTPUT_FOLDER = FOLDER


def output(name="out.safetensors"):
    return os.path.join(OUTPUT_FOLDER, name)


def cleanup():
    for name in os.listdir(OUTPUT_FOLDER):
        path = os.path.join(OUTPUT_FOLDER, name)
        if name.startswith("out") and os.path.isdir(path):
            for inner in os.listdir(path):
                os.remove(os.path.join(path, inner))
            os.rmdir(path)
        elif name.startswith("out"):
            os.remove(path)


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def python_convert(source, dtype):
    tensors = load_file(source)
    if dtype is not None:
        tensors = {k: v.astype(dtype) for k, v in tensors.items()}
    save_file(tensors, output(), metadata={"format": "pt"})
    fd = os.open(output(), os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def main():
    os.makedirs(FOLDER, exist_ok=True)
    source = os.path.join(FOLDER, "input-f32.safetensors")
    if not os.path.exists(source) or os.path.getsize(source) < TENSORS * (64 << 20):
        rng = np.random.default_rng(0)
        tensors = {f"model.layers.{i}.mlp.up_proj.weight": rng.standard_normal((4096, 4096), dtype=np.float32) for i in range(TENSORS)}
        save_file(tensors, source, metadata={"format": "pt"})
        del tensors
    size = os.path.getsize(source)
    with open(source, "rb") as handle:  # warm the page cache
        while handle.read(64 << 20):
            pass
    version = subprocess.run([AMALGAM, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"input: {source}, {size / 1e9:.2f} GB ({TENSORS} F32 tensors of 4096x4096); {REPEATS} runs each, median")
    print(f"tool: {version}; cpu cores: {os.cpu_count()}")

    folders = [("disk", FOLDER)]
    if os.path.isdir("/dev/shm") and os.statvfs("/dev/shm").f_bavail * os.statvfs("/dev/shm").f_frsize > 3 * size:
        folders.append(("tmpfs", tempfile.mkdtemp(dir="/dev/shm", prefix="amalgam-bench-")))
    for label, folder in folders:
        global OUTPUT_FOLDER
        OUTPUT_FOLDER = folder
        print(f"\n== outputs on {label} ({folder}) ==")
        measure(source, size)
        cleanup()
        if label == "tmpfs":
            os.rmdir(folder)
    return 0


def measure(source, size):
    results = {}
    results["cp"] = timed(lambda: run("cp", source, output()))
    results["cp + fsync"] = timed(lambda: run("sh", "-c", f'cp "{source}" "{output()}" && sync "{output()}"'))
    results["amalgam convert (f32 copy)"] = timed(lambda: run(AMALGAM, "convert", source, output()))
    results["python safetensors load+save (f32)"] = timed(lambda: python_convert(source, None))
    results["amalgam convert --dtype f16"] = timed(lambda: run(AMALGAM, "convert", source, output(), "--dtype", "f16"))
    results["python numpy astype(float16)+save"] = timed(lambda: python_convert(source, np.float16))
    results["amalgam convert --dtype bf16"] = timed(lambda: run(AMALGAM, "convert", source, output(), "--dtype", "bf16"))
    results["python ml_dtypes astype(bfloat16)+save"] = timed(lambda: python_convert(source, ml_dtypes.bfloat16))
    results["amalgam convert --max-shard-size 200MB"] = timed(lambda: run(AMALGAM, "convert", source, output("out-sharded") + "/", "--max-shard-size", "200MB"))
    # Both header readers run as fresh processes, so start-up costs are on both sides.
    results["amalgam inspect --json (process)"] = timed(lambda: run(AMALGAM, "inspect", source, "--json"))
    results["python safe_open header (process)"] = timed(lambda: run(
        sys.executable, "-c",
        f"from safetensors import safe_open\nwith safe_open({source!r}, framework='numpy') as f: [f.get_slice(k).get_shape() for k in f.keys()]"))

    print(f"{'run':44} {'seconds':>8} {'GB/s':>7} {'vs cp':>7} {'vs cp+fsync':>12}")
    for name, seconds in results.items():
        rate = size / seconds / 1e9
        print(f"{name:44} {seconds:8.3f} {rate:7.2f} {seconds / results['cp']:7.2f} {seconds / results['cp + fsync']:12.2f}")
    pairs = [
        ("amalgam convert (f32 copy)", "python safetensors load+save (f32)"),
        ("amalgam convert --dtype f16", "python numpy astype(float16)+save"),
        ("amalgam convert --dtype bf16", "python ml_dtypes astype(bfloat16)+save"),
        ("amalgam inspect --json (process)", "python safe_open header (process)"),
    ]
    print("time ratios against the Python reference (below 1 = Amalgam faster):")
    for ours, theirs in pairs:
        print(f"  {ours:40} / {theirs:40} = {results[ours] / results[theirs]:.2f}")
    cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
