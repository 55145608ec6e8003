"""`--quant` gives llama-quantize's files tensor for tensor (issue 13, item 4): the K-quant
mixtures (Q3_K_S, Q3_K_M, Q4_K_M, Q4_K_S, Q5_K_M, Q5_K_S) and IQ4_NL / IQ4_XS with llama.cpp's per-tensor rules, and the single
types as `llama-quantize --pure` writes them, fallbacks for rows that are not whole 256-blocks
included. Two models: SmolLM2-135M (576 wide, so most rows fall back; tied embeddings) and a
synthetic llama whose rows are whole blocks, with its own output projection."""

import json
import subprocess

import numpy as np
import pytest
from gguf import GGUFReader
from helpers import SMOLLM2, amalgam, llama_cpp
from safetensors.numpy import save_file

MIXTURES = ["Q3_K_S", "Q3_K_M", "Q4_K_M", "Q4_K_S", "Q5_K_M", "Q5_K_S", "IQ4_NL", "IQ4_XS"]
SINGLE = ["Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_0", "Q4_0", "Q5_0", "Q5_1"]


def synthetic_llama(folder):
    """A llama with 8 layers, 256 wide (whole blocks), untied output, four query heads per
    key-value head (IQ4's attn_v rule), seeded weights."""
    rng = np.random.default_rng(5)
    width, inner, layers, vocabulary = 256, 512, 8, 512

    def weight(*shape):
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    tensors = {"model.embed_tokens.weight": weight(vocabulary, width), "model.norm.weight": np.ones(width, np.float32),
               "lm_head.weight": weight(vocabulary, width)}
    for i in range(layers):
        p = f"model.layers.{i}."
        for name in ["q_proj", "o_proj"]:
            tensors[p + f"self_attn.{name}.weight"] = weight(width, width)
        for name in ["k_proj", "v_proj"]:
            tensors[p + f"self_attn.{name}.weight"] = weight(width // 4, width)
        tensors[p + "mlp.gate_proj.weight"] = weight(inner, width)
        tensors[p + "mlp.up_proj.weight"] = weight(inner, width)
        tensors[p + "mlp.down_proj.weight"] = weight(width, inner)
        tensors[p + "input_layernorm.weight"] = np.ones(width, np.float32)
        tensors[p + "post_attention_layernorm.weight"] = np.ones(width, np.float32)
    folder.mkdir()
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": width,
              "intermediate_size": inner, "num_hidden_layers": layers, "num_attention_heads": 4,
              "num_key_value_heads": 1, "vocab_size": vocabulary, "max_position_embeddings": 512,
              "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False}
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module", params=["smollm2", "synthetic"])
def f16(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    source = SMOLLM2 if request.param == "smollm2" else str(synthetic_llama(folder / "hf")) + "/"
    out = folder / "f16.gguf"
    amalgam("convert", source, str(out), "--quant", "f16")
    return out


def tensors(path):
    return {t.name: (t.tensor_type.name, t.data.tobytes()) for t in GGUFReader(str(path)).tensors}


@pytest.mark.parametrize("file_type", MIXTURES + SINGLE)
def test_tensors_equal_llama_quantize(f16, file_type):
    pure = file_type in SINGLE
    reference = f16.parent / f"llama-{file_type}.gguf"
    subprocess.run([llama_cpp("llama-quantize"), *(["--pure"] if pure else []), str(f16), str(reference), file_type,
                    "2"], check=True, capture_output=True)
    ours = f16.parent / f"amalgam-{file_type}.gguf"
    amalgam("convert", str(f16), str(ours), "--quant", file_type.lower(), "--force")
    theirs, mine = tensors(reference), tensors(ours)
    assert set(theirs) == set(mine)
    types = {name: (theirs[name][0], mine[name][0]) for name in theirs if theirs[name][0] != mine[name][0]}
    assert not types, f"{len(types)} tensors of another type: {list(types.items())[:4]}"
    different = [name for name in theirs if theirs[name][1] != mine[name][1]]
    assert not different, f"{len(different)} of {len(theirs)} tensors differ: {different[:4]}"
    if not pure:
        # A mixture's general.file_type is llama.cpp's for it (Q4_K_M = 15 ...).
        field = GGUFReader(str(ours)).fields["general.file_type"]
        assert int(field.parts[-1][0]) == {"Q3_K_S": 11, "Q3_K_M": 12, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16, "Q5_K_M": 17, "IQ4_NL": 25,
                                           "IQ4_XS": 30}[file_type]


def test_mixtures_give_more_bits_where_llama_cpp_does(f16):
    """Q4_K_M: Q6_K for ffn_down in the first and last eighth of the layers and every third in
    between (llama.cpp's use_more_bits), Q4_K elsewhere; norms stay F32."""
    ours = f16.parent / "amalgam-Q4_K_M.gguf"
    amalgam("convert", str(f16), str(ours), "--quant", "q4_k_m", "--force")
    types = {name: kind for name, (kind, _) in tensors(ours).items()}
    layers = len([name for name in types if name.endswith("ffn_down.weight")])
    for i in range(layers):
        more = i < layers // 8 or i >= 7 * layers // 8 or (i - layers // 8) % 3 == 2
        assert types[f"blk.{i}.ffn_down.weight"] == ("Q6_K" if more else "Q4_K"), i
    assert types["blk.0.attn_norm.weight"] == "F32"
