"""Reading a 1 GB .npz, stored and deflated: `amalgam inspect --verify` (reads every member
completely: CRC checks, inflation) against numpy.load of every member, both as fresh
processes, median of BENCH_REPEATS runs (default 3), page cache warm.

Environment: AMALGAM (the executable), BENCH_DIR (default .build/bench).
"""

import os
import statistics
import subprocess
import sys
import time

import numpy as np

AMALGAM = os.environ.get("AMALGAM", ".build/release/amalgam")
FOLDER = os.environ.get("BENCH_DIR", ".build/bench")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def timed(command):
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def warm(path):
    with open(path, "rb") as handle:
        while handle.read(64 << 20):
            pass


def main():
    os.makedirs(FOLDER, exist_ok=True)
    stored = os.path.join(FOLDER, "input-1gb-stored.npz")
    deflated = os.path.join(FOLDER, "input-1gb-deflated.npz")
    if not (os.path.exists(stored) and os.path.exists(deflated)):
        rng = np.random.default_rng(0)
        # Weights-like data: gaussian values rounded to 3 decimals, so deflate has some
        # redundancy to find (pure random floats barely compress).
        arrays = {f"layers.{i}.weight": np.round(rng.standard_normal((4096, 4096)), 3).astype(np.float32) for i in range(16)}
        np.savez(stored, **arrays)
        np.savez_compressed(deflated, **arrays)
        del arrays
    read_all = "import numpy as np, sys\nwith np.load(sys.argv[1]) as z:\n    total = sum(z[k].nbytes for k in z.files)\n"
    print(f"tool: {subprocess.run([AMALGAM, '--version'], capture_output=True, text=True).stdout.strip()}; {REPEATS} runs each, median")
    print(f"{'archive':28} {'size':>9} {'amalgam s':>10} {'numpy s':>9} {'ratio':>7}")
    for label, path in [("stored (np.savez)", stored), ("deflated (savez_compressed)", deflated)]:
        warm(path)
        ours = timed([AMALGAM, "inspect", path, "--verify", "--json"])
        theirs = timed([sys.executable, "-c", read_all, path])
        print(f"{label:28} {os.path.getsize(path) / 1e9:7.2f}GB {ours:10.3f} {theirs:9.3f} {ours / theirs:7.2f}")
    print("ratio = amalgam time / numpy time (below 1 = Amalgam faster); both read 1.07 GB of array data")


if __name__ == "__main__":
    sys.exit(main())
