"""AXIS Stage 1: Amalgam's fast path (randomized top-K SVD + QR-of-factors) against
Amalgam's own --exact-svd path and the reference full-SVD path in numpy (full SVD of every
task vector, pooled sort, dense sum, full SVD of the sum), on the same files in one script.

Sections (environment knobs in brackets):
  ViT-B/32 shapes: blocks x {768x2304, 768x768, 3072x768, 768x3072}, T = 8, K = 76
    [BENCH_VIT_BLOCKS, default 12]
  LLM shapes: 4096x4096 and 11008x4096, T = 4, K = 76  [BENCH_LLM=0 skips it]
  (BENCH_SECTIONS=vit,llm,flat chooses sections)
  flat spectra: 2 blocks of ViT-B/32 shapes whose task vectors are Gaussian noise of one
    scale (every source's spectrum flat and interleaved with the others'), T = 8, K = 76
Task vectors are rank-64 signals of different strengths plus a small noise floor, but for
the flat section. Reported: seconds, time ratios, selection agreement (components per source,
per matrix), how many task vectors the fast path's certificate sent to a finer SVD (Gram, sgesdd)
and relative difference of the merged updates, and peak resident memory of the T = 8 merge
against one tensor x (T + 2).
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
FOLDER = os.path.join(os.environ.get("BENCH_DIR", ".build/bench"), "axis")
K = 76


def make_models(folder, shapes, sources, seed, flat=False):
    os.makedirs(folder, exist_ok=True)
    marker = os.path.join(folder, "done")
    if os.path.exists(marker):
        return
    rng = np.random.default_rng(seed)
    base = {name: (rng.standard_normal(shape, dtype=np.float32) * 0.02) for name, shape in shapes.items()}
    save_file(base, os.path.join(folder, "base.safetensors"))
    for i in range(sources):
        model = {}
        for name, shape in shapes.items():
            if flat:
                model[name] = base[name] + rng.standard_normal(shape, dtype=np.float32) * 0.002
                continue
            strength = 0.002 * (1 + i % 4)
            left = rng.standard_normal((shape[0], 64), dtype=np.float32)
            right = rng.standard_normal((64, shape[1]), dtype=np.float32) * strength
            noise = rng.standard_normal(shape, dtype=np.float32) * 1e-4
            model[name] = base[name] + left @ right / 8 + noise
        save_file(model, os.path.join(folder, f"source{i}.safetensors"))
    open(marker, "w").close()


def amalgam_merge(folder, sources, label, *extra):
    out = os.path.join(folder, f"merged-{label}.safetensors")
    report = os.path.join(folder, f"report-{label}.json")
    command = ["/usr/bin/time", "-f", "MAXRSS %M", AMALGAM, "merge", "--base", os.path.join(folder, "base.safetensors")]
    for i in range(sources):
        command += ["--source", os.path.join(folder, f"source{i}.safetensors")]
    command += ["--k", str(K), "--output", out, "--report", report, "--force", *extra]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    peak = int(re.search(r"MAXRSS (\d+)", result.stderr).group(1)) * 1024
    with open(report) as handle:
        tensors = {t["name"]: t for t in json.load(handle)["tensors"]}
    return seconds, peak, load_file(out), tensors


def numpy_reference(folder, sources, names):
    """The paper's reference path: full SVDs of every task vector and of the sum."""
    start = time.perf_counter()
    base = load_file(os.path.join(folder, "base.safetensors"))
    models = [load_file(os.path.join(folder, f"source{i}.safetensors")) for i in range(sources)]
    merged, counts = {}, {}
    for name in names:
        pool = []
        factors = []
        for source, model in enumerate(models):
            u, s, vt = np.linalg.svd(model[name] - base[name], full_matrices=False)
            factors.append((u, vt))
            pool += [(float(s[j]), source, j) for j in range(len(s))]
        pool.sort(key=lambda c: (-c[0], c[1], c[2]))
        top = pool[:K]
        a = np.stack([factors[src][0][:, j] * value for value, src, j in top], axis=1)
        b = np.stack([factors[src][1][j] for value, src, j in top], axis=1)
        dense = a @ b.T
        u, s, vt = np.linalg.svd(dense, full_matrices=False)  # re-orthogonalisation, as the reference does
        merged[name] = base[name] + (u[:, :K] * s[:K]) @ vt[:K]
        counts[name] = [sum(1 for _, src, _ in top if src == i) for i in range(sources)]
    return time.perf_counter() - start, merged, counts


def section(title, shapes, sources, seed, flat=False):
    # The data depend on the shapes and the source count: key the cache on both.
    folder = os.path.join(FOLDER, f"{title.split()[0].lower().replace('/', '-')}-{len(shapes)}x{sources}")
    make_models(folder, shapes, sources, seed, flat)
    names = list(shapes)
    print(f"\n== {title}: {len(names)} matrices, T = {sources}, K = {K} ==")
    # Every path reads warm pages: the sections' files together exceed what stays cached.
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), "rb") as handle:
            while handle.read(1 << 24):
                pass
    fast_s, fast_peak, fast, fast_report = amalgam_merge(folder, sources, "fast")
    exact_s, exact_peak, exact, exact_report = amalgam_merge(folder, sources, "exact", "--exact-svd")
    ref_s, ref, ref_counts = numpy_reference(folder, sources, names)
    base = load_file(os.path.join(folder, "base.safetensors"))
    agree_exact = sum(fast_report[n]["components_per_source"] == exact_report[n]["components_per_source"] for n in names)
    agree_ref = sum(fast_report[n]["components_per_source"] == ref_counts[n] for n in names)
    difference = max(np.linalg.norm((fast[n] - base[n]) - (ref[n] - base[n])) / np.linalg.norm(ref[n] - base[n]) for n in names)
    print(f"{'path':40} {'seconds':>9} {'vs fast':>8}")
    print(f"{'amalgam fast (randomized top-K)':40} {fast_s:9.2f} {1:8.2f}")
    print(f"{'amalgam --exact-svd':40} {exact_s:9.2f} {exact_s / fast_s:8.2f}")
    print(f"{'numpy reference (full SVDs)':40} {ref_s:9.2f} {ref_s / fast_s:8.2f}")
    print(f"selection agreement (components per source): {agree_exact}/{len(names)} matrices vs --exact-svd, "
          f"{agree_ref}/{len(names)} vs numpy; largest relative update difference vs numpy {difference:.2e}")
    gram = sum(len(fast_report[n].get("gram_svd_sources", [])) for n in names)
    refined = sum(len(fast_report[n].get("exact_svd_sources", [])) for n in names)
    certified = sum(bool(fast_report[n].get("selection_certified")) for n in names)
    print(f"certificate: {certified}/{len(names)} selections certified; of {len(names) * sources} task vectors "
          f"{gram} settled by their f64 Gram eigenpairs, {refined} sent to sgesdd")
    largest = max(np.prod(s) for s in shapes.values()) * 4
    print(f"peak resident memory (fast): {fast_peak / 1e6:.0f} MB; one tensor x (T + 2) = {largest * (sources + 2) / 1e6:.0f} MB "
          f"(ratio {fast_peak / (largest * (sources + 2)):.2f}); --exact-svd {exact_peak / 1e6:.0f} MB")


def vit_shapes(blocks):
    shapes = {}
    for b in range(blocks):
        shapes[f"blocks.{b}.attn.in_proj.weight"] = (768, 2304)
        shapes[f"blocks.{b}.attn.out_proj.weight"] = (768, 768)
        shapes[f"blocks.{b}.mlp.c_fc.weight"] = (3072, 768)
        shapes[f"blocks.{b}.mlp.c_proj.weight"] = (768, 3072)
    return shapes


def main():
    blocks = int(os.environ.get("BENCH_VIT_BLOCKS", "12"))
    vit = vit_shapes(blocks)
    only = set(os.environ.get("BENCH_SECTIONS", "vit,llm,flat").split(","))
    if os.environ.get("BENCH_LLM", "1") == "0":
        only.discard("llm")
    print(f"tool: {subprocess.run([AMALGAM, '--version'], capture_output=True, text=True).stdout.strip()}; numpy {np.__version__}")
    if "vit" in only:
        section(f"ViT-B/32 shapes ({blocks} blocks)", vit, 8, 0)
    if "llm" in only:
        section("LLM shapes", {"model.layers.0.self_attn.q_proj.weight": (4096, 4096), "model.layers.0.mlp.up_proj.weight": (11008, 4096)}, 4, 1)
    if "flat" in only:
        section("flat spectra (Gaussian task vectors of one scale, ViT-B/32 shapes, 2 blocks)", vit_shapes(2), 8, 2, flat=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
