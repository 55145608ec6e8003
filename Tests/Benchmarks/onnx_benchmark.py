"""Reading every initializer of a 1 GB ONNX model, inline (raw_data) and with external data:
`amalgam inspect --verify` (reads every tensor completely, counts NaN/Inf) against
`onnx.load` + `numpy_helper.to_array` of every initializer. Both run as fresh processes;
time is the median of BENCH_REPEATS runs (default 3), page cache warm; peak memory is each
process's maximum resident set (wait4).

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

READ_ALL = """
import sys, onnx
from onnx import numpy_helper
model = onnx.load(sys.argv[1])
total = sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)
assert total > 0
"""


def run(command):
    """(seconds, peak RSS in MB) of one fresh process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{command} failed with status {status}")
    return elapsed, usage.ru_maxrss / 1024


def measure(command):
    samples = [run(command) for _ in range(REPEATS)]
    return statistics.median(s[0] for s in samples), max(s[1] for s in samples)


def warm(*paths):
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(64 << 20):
                pass


def make_models(inline, external):
    import onnx
    from onnx import helper, numpy_helper
    rng = np.random.default_rng(0)
    # 16 x 4096 x 4096 f32 = 1.07 GB, built one tensor at a time.
    tensors = [numpy_helper.from_array(rng.standard_normal((4096, 4096), dtype=np.float32), f"layers.{i}.weight") for i in range(16)]
    graph = helper.make_graph([], "bench", [], [], initializer=tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save_model(model, inline)
    onnx.save_model(model, external, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=os.path.basename(external) + ".data", size_threshold=0)


def main():
    os.makedirs(FOLDER, exist_ok=True)
    inline = os.path.join(FOLDER, "input-1gb-inline.onnx")
    external = os.path.join(FOLDER, "input-1gb-external.onnx")
    if not (os.path.exists(inline) and os.path.exists(external + ".data")):
        # In a child process: a forked child's peak RSS counts the parent's pages, so the
        # measuring process must stay small.
        subprocess.run([sys.executable, __file__, "--make", inline, external], check=True)
    print(f"tool: {subprocess.run([AMALGAM, '--version'], capture_output=True, text=True).stdout.strip()}; {REPEATS} runs each, median time, max peak RSS")
    print(f"{'model':22} {'amalgam s':>10} {'onnx s':>8} {'ratio':>7} {'amalgam MB':>11} {'onnx MB':>9} {'ratio':>7}")
    for label, path, data in [("inline raw_data", inline, inline), ("external data", external, external + ".data")]:
        warm(path, data)
        ours, our_memory = measure([AMALGAM, "inspect", path, "--verify", "--json"])
        theirs, their_memory = measure([sys.executable, "-c", READ_ALL, path])
        print(f"{label:22} {ours:10.3f} {theirs:8.3f} {ours / theirs:7.2f} {our_memory:11.0f} {their_memory:9.0f} {our_memory / their_memory:7.2f}")
    print("ratio = amalgam / onnx (below 1 = Amalgam faster or smaller); both read 1.07 GB of f32 initializers")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--make"]:
        sys.exit(make_models(sys.argv[2], sys.argv[3]))
    sys.exit(main())
