"""Hugging Face folders exported from GGUF run in transformers as transformers' own GGUF loader runs
the original (issue 13, items 2 and 3): the same logits on a sequence longer than Gemma 3's
sliding window (config.json carries the window, the layer pattern, the local rope base and the
query scale), and the same token ids from the exported tokenizer as llama.cpp's on a multilingual
text, BOS included (and as transformers' GGUF tokenizer where that one follows the file's
pre-tokenizer: Gemma 3 yes, SmolLM2 no)."""

import json
import subprocess

import pytest
import torch
from helpers import SMOLLM2, amalgam, gemma3, llama_cpp, llama_cpp_source
from transformers import AutoModelForCausalLM, AutoTokenizer

MODELS = {"gemma-3-270m": gemma3, "smollm2-135m": lambda: SMOLLM2}


@pytest.fixture(scope="module", params=sorted(MODELS))
def pair(request, tmp_path_factory):
    """(ours: the exported folder, theirs: the GGUF as transformers loads it), models and tokenizers."""
    gguf = MODELS[request.param]()
    folder = tmp_path_factory.mktemp(request.param) / "hf"
    amalgam("convert", gguf, str(folder) + "/", "--dtype", "f32")
    directory, name = gguf.rsplit("/", 1)
    ours = (AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32), AutoTokenizer.from_pretrained(folder))
    theirs = (AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32),
              AutoTokenizer.from_pretrained(directory, gguf_file=name))
    return request.param, ours, theirs


def test_logits_equal_transformers_gguf_loader(pair):
    name, (ours, _), (theirs, _) = pair
    ids = torch.randint(10, 20000, (1, 700), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = ours(ids).logits, theirs(ids).logits
    assert a.shape == b.shape and (a - b).abs().max().item() <= 1e-4 * b.abs().max().item(), name
    if name == "gemma-3-270m":
        assert ours.config.sliding_window == 512 and ours.config.layer_types == theirs.config.layer_types


def test_tokenizer_ids_equal_llama_cpp_and_transformers_gguf_tokenizer(pair, tmp_path):
    name, (_, ours), (_, theirs) = pair
    source = llama_cpp_source("models", "ggml-vocab-llama-spm.gguf.inp")
    text = open(source, encoding="utf-8").read()
    result = subprocess.run([llama_cpp("llama-tokenize"), "-m", MODELS[name](), "-f", source, "--ids", "--log-disable",
                             "--no-parse-special", "--no-escape"], capture_output=True, text=True, check=True)
    llama = json.loads(result.stdout.strip().splitlines()[-1])
    mine = ours(text)["input_ids"]
    assert len(llama) > 300 and mine == llama, name
    if name == "gemma-3-270m":
        assert mine == theirs(text)["input_ids"] and mine[0] == 2
    else:
        # transformers' GGUF loader splits SmolLM2's text with GPT-2's ByteLevel alone; llama.cpp
        # (tokenizer.ggml.pre "smollm") and the exported tokenizer.json first cut digits apart.
        assert theirs.backend_tokenizer.pre_tokenizer.__class__.__name__ == "ByteLevel" and mine != theirs(text)["input_ids"]
