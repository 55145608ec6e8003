"""LoRA adapters as merge sources and as merge outputs (issue 15), checked with the real peft and
llama.cpp: adapters PEFT wrote are sources in every method (AXIS and TSV-M take their factors, the
others the dense W0 + scale·B·A); every adapter Amalgam writes loads in peft, and base + adapter is
the merged model; extract-lora gives numpy's truncated SVD of the difference; llama.cpp applies a
written adapter GGUF and gives the merged model's logits (llama-perplexity's KL divergence)."""

import json
import os
import re
import subprocess

import numpy as np
import pytest
import torch
from helpers import SMOLLM2, amalgam, llama_cpp
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_adapter(base_folder, out, seed, **settings):
    """A PEFT LoRA adapter of the model in `base_folder` with random (nonzero) B and A."""
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_folder, dtype=torch.float32)
    config = LoraConfig(**{"r": 4, "lora_alpha": 8, "target_modules": MODULES, "init_lora_weights": False,
                           **settings})
    peft_model = get_peft_model(model, config)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_" in name:
                parameter.mul_(0.5)
    peft_model.save_pretrained(out)
    return out


def dense(base_folder, adapter, out):
    """The fine-tune the adapter stands for, as peft itself merges it (f32 safetensors folder)."""
    model = AutoModelForCausalLM.from_pretrained(base_folder, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
    return os.path.join(out, "model.safetensors")


def applied(base_folder, adapter):
    """The base with the adapter merged in by peft: {name: array}."""
    model = AutoModelForCausalLM.from_pretrained(base_folder, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    return {name: value.detach().numpy() for name, value in merged.state_dict().items()}


def assert_close(ours, theirs, atol=1e-5):
    for name, value in theirs.items():
        if name not in ours:
            continue
        difference = np.abs(ours[name].astype(np.float64) - value.astype(np.float64)).max()
        assert difference <= atol, f"{name}: {difference}"


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """A small llama (2 layers, 4 heads, 2 kv heads) and three adapters: plain, rank/alpha
    patterns, rsLoRA with lm_head saved whole and changed."""
    folder = tmp_path_factory.mktemp("lora")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    base = folder / "base"
    LlamaForCausalLM(config).save_pretrained(base, safe_serialization=True)
    adapters = [
        make_adapter(base, folder / "a1", 1),
        make_adapter(base, folder / "a2", 2, rank_pattern={"model\\.layers\\.0\\.self_attn\\.q_proj": 2},
                     alpha_pattern={"model\\.layers\\.0\\.self_attn\\.q_proj": 5}),
        make_adapter(base, folder / "a3", 3, r=6, use_rslora=True),
    ]
    denses = [dense(base, adapter, folder / f"d{i}") for i, adapter in enumerate(adapters)]
    return folder, base, adapters, denses


@pytest.mark.parametrize("method", ["axis", "tsv", "task_arithmetic", "ties", "average"])
def test_merge_of_adapters_equals_merge_of_their_dense_fine_tunes(zoo, method, tmp_path):
    folder, base, adapters, denses = zoo
    extra = ["--lambda", "0.5"] if method == "task_arithmetic" else []
    outputs = {}
    for kind, sources in [("adapters", adapters), ("dense", denses)]:
        out = tmp_path / f"{kind}.safetensors"
        args = ["merge", "--base", str(base / "model.safetensors"), "--method", method, "--output", str(out),
                "--report", str(tmp_path / f"{kind}.json")] + extra
        for source in sources:
            args += ["--source", str(source)]
        amalgam(*args)
        outputs[kind] = load_file(out)
    assert_close(outputs["adapters"], outputs["dense"])
    report = json.load(open(tmp_path / "adapters.json"))
    # The adapters' task-vector norms are those of scale·B·A computed from the factors.
    norms = report["tensors"][1]["task_vector_norms"]
    dense_norms = json.load(open(tmp_path / "dense.json"))["tensors"][1]["task_vector_norms"]
    assert np.allclose(norms, dense_norms, rtol=1e-4)


@pytest.mark.parametrize("method,rank", [("axis", None), ("ties", None), ("tsv", None), ("axis", 2)])
def test_written_adapter_loads_in_peft_and_gives_the_merged_model(zoo, method, rank, tmp_path):
    folder, base, adapters, denses = zoo
    args = ["merge", "--base", str(base / "model.safetensors"), "--method", method,
            "--output", str(tmp_path / "merged.safetensors"), "--output-lora", str(tmp_path / "adapter"),
            "--report", str(tmp_path / "report.json"), "--source", str(adapters[0]), "--source", str(denses[1]),
            "--source", str(adapters[2])]
    if rank:
        args += ["--lora-rank", str(rank)]
    result = amalgam(*args)
    assert "LoRA adapter" in result.stderr
    config = json.load(open(tmp_path / "adapter" / "adapter_config.json"))
    assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM"
    peft_model = applied(base, tmp_path / "adapter")
    merged = load_file(tmp_path / "merged.safetensors")
    base_weights = load_file(base / "model.safetensors")
    lora = json.load(open(tmp_path / "report.json"))["lora_adapter"]
    if rank is None:
        assert_close(peft_model, merged)
        assert all(t["kept_energy_fraction"] == 1 for t in lora["tensors"])
    else:
        # Truncated: B·A is the top-`rank` SVD of the merged update, energy as numpy computes it.
        for entry in lora["tensors"]:
            name = entry["name"]
            update = merged[name].astype(np.float64) - base_weights[name]
            u, s, vt = np.linalg.svd(update)
            top = (u[:, :rank] * s[:rank]) @ vt[:rank]
            assert np.abs(peft_model[name] - base_weights[name] - top).max() <= 1e-5, name
            expected = (s[:rank] ** 2).sum() / (s ** 2).sum()
            assert entry["rank"] == rank and abs(entry["kept_energy_fraction"] - expected) <= 1e-5, name


def test_changed_non_matrix_tensors_are_saved_whole(zoo, tmp_path):
    """A dense source whose norms and lm_head changed: those modules go to modules_to_save."""
    folder, base, adapters, denses = zoo
    weights = load_file(base / "model.safetensors")
    weights["model.norm.weight"] = weights["model.norm.weight"] + 0.25
    weights["lm_head.weight"] = weights["lm_head.weight"] * 1.5
    from safetensors.numpy import save_file
    save_file(weights, str(tmp_path / "changed.safetensors"), metadata={"format": "pt"})
    amalgam("merge", "--base", str(base / "model.safetensors"), "--source", str(tmp_path / "changed.safetensors"),
            "--source", str(adapters[0]), "--method", "average", "--output", str(tmp_path / "merged.safetensors"),
            "--output-lora", str(tmp_path / "adapter"))
    config = json.load(open(tmp_path / "adapter" / "adapter_config.json"))
    assert sorted(config["modules_to_save"]) == ["lm_head", "model.norm"]
    assert_close(applied(base, tmp_path / "adapter"), load_file(tmp_path / "merged.safetensors"))
    # A GGUF adapter cannot hold them: refused, nothing written.
    result = amalgam("merge", "--base", str(base / "model.safetensors"), "--source",
                     str(tmp_path / "changed.safetensors"), "--output-lora", str(tmp_path / "x.gguf"), check=False)
    assert result.returncode != 0 and "llama.cpp's adapter GGUF holds LoRA pairs only" in result.stderr
    assert not os.path.exists(tmp_path / "x.gguf")


def test_extract_lora_is_the_truncated_svd_of_the_difference(zoo, tmp_path):
    folder, base, adapters, denses = zoo
    amalgam("extract-lora", str(denses[2]), "--base", str(base / "model.safetensors"), "--rank", "3",
            "--output", str(tmp_path / "extracted"), "--report", str(tmp_path / "report.json"))
    ours = applied(base, tmp_path / "extracted")
    fine = load_file(denses[2])
    original = load_file(base / "model.safetensors")
    checked = 0
    for name, value in fine.items():
        if value.ndim != 2 or "embed" in name or "lm_head" in name:
            continue
        difference = value.astype(np.float64) - original[name]
        u, s, vt = np.linalg.svd(difference)
        top = (u[:, :3] * s[:3]) @ vt[:3]
        assert np.abs(ours[name] - original[name] - top).max() <= 1e-5, name
        checked += 1
    assert checked == 14
    # At the adapter's own rank (6) the extraction is exact.
    amalgam("extract-lora", str(denses[2]), "--base", str(base / "model.safetensors"), "--rank", "6",
            "--output", str(tmp_path / "full"))
    assert_close(applied(base, tmp_path / "full"), fine)


def test_bad_adapters_are_refused_with_one_line(zoo, tmp_path):
    folder, base, adapters, denses = zoo
    import shutil
    cases = {}
    dora = tmp_path / "dora"
    shutil.copytree(adapters[0], dora)
    config = json.load(open(dora / "adapter_config.json"))
    config["use_dora"] = True
    json.dump(config, open(dora / "adapter_config.json", "w"))
    cases[dora] = "use_dora is true: DoRA adapters are not supported"
    half = tmp_path / "half"
    shutil.copytree(adapters[0], half)
    tensors = load_file(half / "adapter_model.safetensors")
    del tensors["base_model.model.model.layers.1.mlp.up_proj.lora_B.weight"]
    from safetensors.numpy import save_file
    save_file(tensors, str(half / "adapter_model.safetensors"))
    cases[half] = "module 'model.layers.1.mlp.up_proj' has lora_A but no lora_B"
    other = tmp_path / "other"
    shutil.copytree(adapters[0], other)
    tensors = load_file(other / "adapter_model.safetensors")
    tensors["base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight"] = np.zeros((4, 64), np.float32)
    tensors["base_model.model.model.layers.7.self_attn.q_proj.lora_B.weight"] = np.zeros((64, 4), np.float32)
    save_file(tensors, str(other / "adapter_model.safetensors"))
    cases[other] = "names 'model.layers.7.self_attn.q_proj.weight', which the base does not have"
    for adapter, message in cases.items():
        out = tmp_path / "out.safetensors"
        result = amalgam("merge", "--base", str(base / "model.safetensors"), "--source", str(adapter),
                         "--output", str(out), check=False)
        assert result.returncode != 0 and message in result.stderr, result.stderr
        assert str(adapter) in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert not out.exists()


def kl_divergence(model, base_logits, text, lora=None):
    args = [llama_cpp("llama-perplexity"), "-m", str(model), "-f", str(text), "-c", "128", "--chunks", "4",
            "-t", "2", "--kl-divergence-base", str(base_logits), "--kl-divergence"]
    if lora:
        args += ["--lora", str(lora)]
    result = subprocess.run(args, capture_output=True, text=True, check=True)
    output = result.stdout + result.stderr
    assert "failed to apply lora" not in output, output[-2000:]
    mean = float(re.search(r"Mean\s+KLD:\s+(-?[0-9.e+-]+)", output).group(1))
    same = float(re.search(r"Same top p:\s+([0-9.]+)", output).group(1))
    return mean, same


def test_llama_cpp_applies_the_adapter_gguf_and_gives_the_merged_logits(tmp_path):
    """SmolLM2-135M: an AXIS merge of two PEFT adapters (q/k rows carry the rotary permutation
    in GGUF) written as a GGUF adapter; llama-perplexity on base + --lora matches the merged
    model's logits, and the GGUF adapter read back as a source gives the PEFT adapter's merge."""
    hf = tmp_path / "hf"
    amalgam("convert", SMOLLM2, str(hf) + "/", "--dtype", "f32")
    adapters = [make_adapter(hf, tmp_path / f"a{seed}", seed, r=8, lora_alpha=16) for seed in (1, 2)]
    base_gguf = tmp_path / "base.gguf"
    amalgam("convert", str(hf) + "/", str(base_gguf))
    merged = tmp_path / "merged.gguf"
    amalgam("merge", "--base", str(hf) + "/", "--source", str(adapters[0]), "--source", str(adapters[1]),
            "--output", str(merged), "--output-lora", str(tmp_path / "adapter.gguf"),
            "--report", str(tmp_path / "report.json"))
    # The PEFT form of the same merge, for the round trip below.
    amalgam("merge", "--base", str(hf) + "/", "--source", str(adapters[0]), "--source", str(adapters[1]),
            "--output", str(tmp_path / "merged.safetensors"), "--output-lora", str(tmp_path / "adapter"))
    text = tmp_path / "text.txt"
    definitions = [line.split(" | ", 1)[1].split(";")[0].strip()
                   for line in open("/usr/share/wordnet/data.noun", encoding="utf-8") if not line.startswith("  ")]
    text.write_text(" ".join(d[0].upper() + d[1:] + "." for d in definitions[:1500]))
    logits = tmp_path / "merged.kld"
    subprocess.run([llama_cpp("llama-perplexity"), "-m", str(merged), "-f", str(text), "-c", "128", "--chunks", "4",
                    "-t", "2", "--kl-divergence-base", str(logits)], capture_output=True, text=True, check=True)
    with_adapter = kl_divergence(base_gguf, logits, text, lora=tmp_path / "adapter.gguf")
    without = kl_divergence(base_gguf, logits, text)
    print(f"llama.cpp base + adapter.gguf vs merged: mean KLD {with_adapter[0]}, same top p {with_adapter[1]}%; "
          f"base alone: mean KLD {without[0]}, same top p {without[1]}%")
    assert with_adapter[0] <= 1e-5 and with_adapter[1] == 100.0, with_adapter
    # The control: the base alone is measurably not the merged model.
    assert without[0] > 100 * max(with_adapter[0], 1e-7), without
    # The adapter GGUF as a merge source: the same task vectors as the PEFT adapter's merge.
    amalgam("merge", "--base", str(hf) + "/", "--source", str(tmp_path / "adapter.gguf"), "--method",
            "task_arithmetic", "--lambda", "1", "--output", str(tmp_path / "from-gguf.safetensors"))
    assert_close(load_file(tmp_path / "from-gguf.safetensors"), load_file(tmp_path / "merged.safetensors"))
