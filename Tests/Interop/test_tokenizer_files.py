"""The tokenizer's configuration travels between GGUF and Hugging Face folders:
tokenizer_config.json (chat template, special tokens, BOS/EOS flags) is written from a GGUF's
keys and read back into them; tokenizer.json keeps the pre-tokenizer (issue 21, item 16)."""

import json

import gguf
from helpers import SMOLLM2, amalgam


def value(fields, key):
    field = fields[key]
    part = field.parts[-1]
    return bytes(part).decode() if field.types[0] == gguf.GGUFValueType.STRING else part[0]


def test_tokenizer_config_both_ways(tmp_path):
    original = gguf.GGUFReader(SMOLLM2).fields
    amalgam("convert", SMOLLM2, str(tmp_path / "hf") + "/", "--dtype", "f16")
    config = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())
    tokens = original["tokenizer.ggml.tokens"]
    token = lambda key: bytes(tokens.parts[tokens.data[value(original, key)]]).decode()
    assert config["chat_template"] == value(original, "tokenizer.chat_template")
    assert config["bos_token"] == token("tokenizer.ggml.bos_token_id") and config["eos_token"] == token("tokenizer.ggml.eos_token_id")
    assert config["add_bos_token"] is False and config["tokenizer_class"] == "PreTrainedTokenizerFast"
    assert config["added_tokens_decoder"]["0"]["special"] is True
    pre = json.loads((tmp_path / "hf" / "tokenizer.json").read_text())["pre_tokenizer"]
    assert pre["type"] == "Sequence" and pre["pretokenizers"][0] == {"type": "Digits", "individual_digits": True}
    # A Hugging Face folder with another chat template: the GGUF gets it.
    config["chat_template"] = "{{ messages[0]['content'] }}"
    config["add_bos_token"] = True
    (tmp_path / "hf" / "tokenizer_config.json").write_text(json.dumps(config))
    amalgam("convert", str(tmp_path / "hf"), str(tmp_path / "back.gguf"))
    back = gguf.GGUFReader(str(tmp_path / "back.gguf")).fields
    assert value(back, "tokenizer.chat_template") == "{{ messages[0]['content'] }}"
    assert bool(value(back, "tokenizer.ggml.add_bos_token")) is True
    assert value(back, "tokenizer.ggml.pre") == "smollm"
    for key in ["tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id"]:
        assert value(back, key) == value(original, key), key
