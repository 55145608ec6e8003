"""Synthetic Qwen 2 and Qwen 3 models (random weights, Qwen 2's real tokenizer) through every
path to the runtimes (issue 13, item 2): a Hugging Face folder → GGUF runs in llama.cpp with the
greedy continuation transformers computes, and transformers' own GGUF loader reads it back with the
same logits (Qwen 2; its loader ignores Qwen 3's head_dim key); GGUF → Hugging Face → GGUF at F16
is llama.cpp's own F16 conversion and Q8_0, Q4_K_M and Q6_K from it are llama-quantize's bytes; the
Hugging Face export computes the original's logits in transformers."""

import shutil
import subprocess

import pytest
import torch
from gguf import GGUFReader
from helpers import amalgam, llama_cpp, llama_cpp_source
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM

PROMPT = "The capital of France is"
SHAPE = dict(vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=512, rope_theta=1000000.0, tie_word_embeddings=False,
             rms_norm_eps=1e-6, bos_token_id=151643, eos_token_id=151643)


@pytest.fixture(scope="module", params=["qwen2", "qwen3"])
def synthetic(request, tmp_path_factory):
    """(architecture, folder, model): a seeded random model whose matrices are scaled up so its
    greedy choices are clear, saved by transformers beside the tokenizer of Qwen 2's vocabulary."""
    root = tmp_path_factory.mktemp(request.param)
    amalgam("convert", llama_cpp_source("models", "ggml-vocab-qwen2.gguf"), str(root / "vocab") + "/")
    torch.manual_seed(0)
    if request.param == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**SHAPE))
    else:
        model = Qwen3ForCausalLM(Qwen3Config(head_dim=32, **SHAPE))
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.ndim == 2:
                parameter.mul_(8.0)
    model.save_pretrained(root / "hf")
    for name in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(root / "vocab" / name, root / "hf" / name)
    return request.param, root, model.eval()


def continuation(model):
    result = subprocess.run([llama_cpp("llama-simple"), "-m", str(model), "-n", "16", PROMPT],
                            capture_output=True, text=True, check=True)
    return result.stdout.strip()


def tensors(path):
    return {t.name: (t.tensor_type.name, t.data.tobytes()) for t in GGUFReader(str(path)).tensors}


def logits(model):
    ids = torch.randint(10, 20000, (1, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return model(ids).logits


def test_hugging_face_to_gguf_continues_as_transformers(synthetic):
    architecture, root, model = synthetic
    amalgam("convert", str(root / "hf"), str(root / "model-f32.gguf"), "--dtype", "f32")
    tokenizer = AutoTokenizer.from_pretrained(root / "hf")
    generated = model.generate(tokenizer(PROMPT, return_tensors="pt")["input_ids"], max_new_tokens=16, do_sample=False)
    assert generated.shape[1] > 16 and continuation(root / "model-f32.gguf") == tokenizer.decode(generated[0])
    if architecture == "qwen2":
        theirs = AutoModelForCausalLM.from_pretrained(root, gguf_file="model-f32.gguf", dtype=torch.float32)
        assert (logits(theirs) - logits(model)).abs().max().item() == 0.0


def test_gguf_to_hugging_face_to_gguf_is_llama_cpps_conversion(synthetic):
    architecture, root, model = synthetic
    original = root / "model-f32.gguf"
    if not original.exists():
        amalgam("convert", str(root / "hf"), str(original), "--dtype", "f32")
    amalgam("convert", str(original), str(root / "back") + "/", "--dtype", "f32")
    back = AutoModelForCausalLM.from_pretrained(root / "back", dtype=torch.float32)
    assert (logits(back) - logits(model)).abs().max().item() <= 1e-5 * logits(model).abs().max().item()
    ours = root / "back-f16.gguf"
    amalgam("convert", str(root / "back") + "/", str(ours), "--quant", "f16")
    reference = root / "llama-f16.gguf"
    subprocess.run([llama_cpp("llama-quantize"), str(original), str(reference), "F16", "2"], check=True,
                   capture_output=True)
    # Two blocks: Qwen 2's q, k and v have biases, Qwen 3's q and k have norms.
    assert len(tensors(ours)) == {"qwen2": 27, "qwen3": 25}[architecture] and tensors(ours) == tensors(reference)
    assert continuation(ours) == continuation(reference)
    for quant in ["q8_0", "q4_k_m", "q6_k"]:
        amalgam("convert", str(ours), str(root / f"back-{quant}.gguf"), "--quant", quant)
        subprocess.run([llama_cpp("llama-quantize"), str(reference), str(root / f"llama-{quant}.gguf"), quant.upper(),
                        "2"], check=True, capture_output=True)
        assert tensors(root / f"back-{quant}.gguf") == tensors(root / f"llama-{quant}.gguf"), quant
        assert continuation(root / f"back-{quant}.gguf").startswith(PROMPT)
