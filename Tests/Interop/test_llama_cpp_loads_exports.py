"""Merged and converted GGUFs run in llama.cpp (built from source, scripts/build-llama-cpp.sh):
a merge whose base is a Hugging Face folder carries its tokenizer, and llama.cpp tokenizes and
generates with the result as with the original file (issue 21, item 2)."""

import json
import shutil
import subprocess

import numpy as np
import pytest
from helpers import SMOLLM2, amalgam, llama_cpp
from safetensors.numpy import load_file, save_file

TEXT = "Hello world! 12345 naïve café, ça va? 東京 <|im_start|>user"


def tokens(model, text=TEXT):
    result = subprocess.run([llama_cpp("llama-tokenize"), "-m", str(model), "-p", text, "--ids", "--log-disable"],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def continuation(model, prompt="The capital of France is", count=12):
    result = subprocess.run([llama_cpp("llama-simple"), "-m", str(model), "-n", str(count), prompt],
                            capture_output=True, text=True, check=True)
    return result.stdout


@pytest.fixture(scope="module")
def hugging_face_folder(tmp_path_factory):
    """SmolLM2 as a Hugging Face folder (model.safetensors with only format=pt, config.json,
    tokenizer.json, tokenizer_config.json), as transformers' save_pretrained leaves one."""
    folder = tmp_path_factory.mktemp("smollm2")
    amalgam("convert", SMOLLM2, str(folder / "export") + "/", "--dtype", "f32")
    hf = folder / "hf"
    hf.mkdir()
    save_file(load_file(str(folder / "export" / "model.safetensors")), str(hf / "model.safetensors"), metadata={"format": "pt"})
    for name in ["config.json", "tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(folder / "export" / name, hf / name)
    return folder


def test_merged_gguf_has_the_tokenizer_and_runs(hugging_face_folder):
    folder = hugging_face_folder
    base = load_file(str(folder / "hf" / "model.safetensors"))
    rng = np.random.default_rng(0)
    sources = []
    for index in range(2):
        changed = {k: (v + 1e-3 * rng.standard_normal(v.shape).astype(np.float32) if v.ndim == 2 and "embed" not in k else v)
                   for k, v in base.items()}
        save_file(changed, str(folder / f"s{index}.safetensors"), metadata={"format": "pt"})
        sources += ["--source", str(folder / f"s{index}.safetensors")]
    merged = folder / "merged.gguf"
    amalgam("merge", "--base", str(folder / "hf"), *sources, "--method", "average", "--output", str(merged), "--quant", "q8_0")
    from gguf import GGUFReader
    fields = GGUFReader(str(merged)).fields
    for key in ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type",
                "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.chat_template"]:
        assert key in fields, key
    assert bytes(fields["tokenizer.ggml.pre"].parts[-1]).decode() == "smollm"
    # llama.cpp loads it, splits text exactly as the original file does, and generates.
    assert tokens(merged) == tokens(SMOLLM2)
    assert "Paris" in continuation(merged)


def test_converted_gguf_from_a_hugging_face_folder_matches_the_original(hugging_face_folder):
    out = hugging_face_folder / "back.gguf"
    amalgam("convert", str(hugging_face_folder / "hf"), str(out), "--quant", "q8_0")
    assert tokens(out) == tokens(SMOLLM2)
    assert continuation(out).startswith("The capital of France is")
