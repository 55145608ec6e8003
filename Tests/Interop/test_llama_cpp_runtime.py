"""Exports run in llama.cpp as the original does (issue 13, item 2, for SmolLM2-135M Q4_1):
GGUF → Hugging Face folder → GGUF at F16, Q8_0, Q4_K_M and Q6_K loads and runs. The F16 export
has, tensor for tensor, the bytes of llama.cpp's own F16 conversion of the original
(`llama-quantize --allow-requantize`), and gives its perplexity and greedy continuation
exactly. The original itself computes slightly differently (0.3-0.75% in perplexity, by CPU):
llama.cpp multiplies Q4_1 weights by activations it quantises to Q8_1, F16 weights by f32 activations.
An AXIS merge of SmolLM2 with two perturbed variants (safetensors and npz) exported to Q4_K_M
runs."""

import functools
import re
import subprocess

import numpy as np
import pytest
from gguf import GGUFReader
from helpers import SMOLLM2, amalgam, gemma3, llama_cpp
from safetensors.numpy import load_file, save_file

PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    """A fixed English text: the first 3,000 noun definitions of WordNet, as sentences."""
    path = tmp_path_factory.mktemp("text") / "text.txt"
    definitions = [line.split(" | ", 1)[1].split(";")[0].strip()
                   for line in open("/usr/share/wordnet/data.noun", encoding="utf-8") if not line.startswith("  ")]
    path.write_text(" ".join(d[0].upper() + d[1:] + "." for d in definitions[:3000]))
    return path


@functools.lru_cache(maxsize=None)
def perplexity_of(model, text):
    result = subprocess.run([llama_cpp("llama-perplexity"), "-m", str(model), "-f", str(text), "-c", "128",
                             "--chunks", "6", "-t", "2"], capture_output=True, text=True, check=True)
    return float(re.search(r"Final estimate: PPL = ([0-9.]+)", result.stdout + result.stderr).group(1))


def perplexity(model, text):
    """llama-perplexity's estimate over 6 chunks of 128 tokens (each file measured once)."""
    return perplexity_of(str(model), str(text))


def continuation(model, count=16):
    result = subprocess.run([llama_cpp("llama-simple"), "-m", str(model), "-n", str(count), PROMPT],
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("smollm2")
    amalgam("convert", SMOLLM2, str(folder / "hf") + "/", "--dtype", "f32")
    files = {}
    for quant in ["f16", "q8_0", "q4_k_m", "q6_k"]:
        files[quant] = folder / f"smollm2-{quant}.gguf"
        amalgam("convert", str(folder / "hf") + "/", str(files[quant]), "--quant", quant)
    return folder, files


def test_f16_export_is_llama_cpps_own_conversion(exports, text):
    folder, files = exports
    reference = folder / "llama-f16.gguf"
    subprocess.run([llama_cpp("llama-quantize"), "--allow-requantize", SMOLLM2, str(reference), "F16", "2"],
                   check=True, capture_output=True)
    theirs = {t.name: (t.tensor_type.name, t.data.tobytes()) for t in GGUFReader(str(reference)).tensors}
    ours = {t.name: (t.tensor_type.name, t.data.tobytes()) for t in GGUFReader(str(files["f16"])).tensors}
    assert len(ours) == 272 and ours == theirs
    assert perplexity(files["f16"], text) == perplexity(reference, text)
    assert continuation(files["f16"]) == continuation(reference)
    # The Q4_1 original computes differently (activations quantised to Q8_1), by an amount that
    # depends on the CPU's SIMD path in llama.cpp: 0.3% on AVX-512 machines, 0.75% on an AVX2 Zen 3.
    original = perplexity(SMOLLM2, text)
    assert abs(perplexity(files["f16"], text) - original) / original < 1e-2


@pytest.mark.parametrize("quant", ["q8_0", "q4_k_m", "q6_k"])
def test_quantised_exports_load_and_run(exports, text, quant):
    _, files = exports
    original, ours = perplexity(SMOLLM2, text), perplexity(files[quant], text)
    # Re-quantising Q4_1 weights adds error; the model must still compute, near the original.
    assert ours < 1.15 * original, (quant, ours, original)
    assert continuation(files[quant]).startswith(PROMPT)


def test_axis_merge_of_mixed_formats_runs_at_q4_k_m(exports, text, tmp_path):
    folder, _ = exports
    weights = load_file(str(folder / "hf" / "model.safetensors"))
    rng = np.random.default_rng(2)
    sources = []
    for index, suffix in enumerate(["safetensors", "npz"]):
        variant = {name: (value + 0.002 * rng.standard_normal(value.shape).astype(np.float32)
                          if value.ndim == 2 else value) for name, value in weights.items()}
        path = tmp_path / f"variant-{index}.{suffix}"
        save_file(variant, str(path)) if suffix == "safetensors" else np.savez(path, **variant)
        sources.append(str(path))
    merged = tmp_path / "merged-q4_k_m.gguf"
    amalgam("merge", "--base", str(folder / "hf") + "/", "--source", sources[0], "--source", sources[1],
            "--method", "axis", "--output", str(merged), "--quant", "q4_k_m")
    assert perplexity(merged, text) < 1.3 * perplexity(SMOLLM2, text)
    assert continuation(merged).startswith(PROMPT)


@pytest.fixture(scope="module")
def gemma_exports(tmp_path_factory):
    """gemma-3-270m Q4_K_M → Hugging Face folder (f32) → GGUF F16, and F16 → Q8_0, Q4_K_M, Q6_K."""
    folder = tmp_path_factory.mktemp("gemma3")
    amalgam("convert", gemma3(), str(folder / "hf") + "/", "--dtype", "f32")
    files = {"f16": folder / "gemma-f16.gguf"}
    amalgam("convert", str(folder / "hf") + "/", str(files["f16"]), "--quant", "f16")
    for quant in ["q8_0", "q4_k_m", "q6_k"]:
        files[quant] = folder / f"gemma-{quant}.gguf"
        amalgam("convert", str(files["f16"]), str(files[quant]), "--quant", quant)
    return folder, files


def tensors(path):
    return {t.name: (t.tensor_type.name, t.data.tobytes()) for t in GGUFReader(str(path)).tensors}


def test_gemma_f16_export_is_llama_cpps_own_conversion(gemma_exports, text):
    folder, files = gemma_exports
    reference = folder / "llama-f16.gguf"
    subprocess.run([llama_cpp("llama-quantize"), "--allow-requantize", gemma3(), str(reference), "F16", "2"],
                   check=True, capture_output=True)
    ours = tensors(files["f16"])
    assert len(ours) == 236 and ours == tensors(reference)
    assert perplexity(files["f16"], text) == perplexity(reference, text)
    assert continuation(files["f16"]) == continuation(reference)
    # The original multiplies K-quant weights by activations quantised to Q8_K, by an amount that
    # depends on the CPU's SIMD path in llama.cpp: 0.1% on an AVX2 Zen 3, 0.6% on an AVX-512 Skylake-X.
    original = perplexity(gemma3(), text)
    assert abs(perplexity(files["f16"], text) - original) / original < 1e-2


@pytest.mark.parametrize("quant", ["q8_0", "q4_k_m", "q6_k"])
def test_gemma_quantised_exports_are_llama_quantizes_and_run(gemma_exports, text, quant):
    folder, files = gemma_exports
    reference = folder / f"llama-{quant}.gguf"
    subprocess.run([llama_cpp("llama-quantize"), str(files["f16"]), str(reference), quant.upper(), "2"],
                   check=True, capture_output=True)
    assert tensors(files[quant]) == tensors(reference)
    assert perplexity(files[quant], text) < 1.15 * perplexity(gemma3(), text)
    # llama-simple prints Gemma's BOS piece.
    assert continuation(files[quant]).removeprefix("<bos>").startswith(PROMPT)
