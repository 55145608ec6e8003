"""`--quant` gives llama-quantize's files tensor for tensor (issue 13, item 4): the K-quant
mixtures (Q2_K, Q2_K_S, Q3_K_S, Q3_K_M, Q4_K_M, Q4_K_S, Q5_K_M, Q5_K_S) and IQ4_NL / IQ4_XS with
llama.cpp's per-tensor rules, and the single types as `llama-quantize --pure` writes them, fallbacks
for rows that are not whole 256-blocks included; and the same with `--imatrix` (llama-imatrix's GGUF
output and its legacy .dat), which switches every encoder but Q8_0 to its weighted search. Two
models: SmolLM2-135M (576 wide, so most rows fall back; tied embeddings) and a synthetic llama whose
rows are whole blocks, with its own output projection."""

import functools
import json
import os
import struct
import subprocess

import numpy as np
import pytest
import gguf
from gguf import GGUFReader
from helpers import SMOLLM2, amalgam, llama_cpp
from safetensors.numpy import save_file

MIXTURES = ["Q2_K", "Q3_K_S", "Q3_K_M", "Q4_K_M", "Q4_K_S", "Q5_K_M", "Q5_K_S", "IQ4_NL", "IQ4_XS"]
SINGLE = ["Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_0", "Q4_0", "Q5_0", "Q5_1"]
FILE_TYPES = {"Q2_K": 10, "Q2_K_S": 21, "Q3_K_S": 11, "Q3_K_M": 12, "Q4_K_S": 14, "Q4_K_M": 15, "Q5_K_S": 16,
              "Q5_K_M": 17, "IQ4_NL": 25, "IQ4_XS": 30}


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


@functools.lru_cache(maxsize=8)
def parsed(path, modified):
    """Tensors (type, bytes) and metadata values (bytes) of a GGUF file, parsed once (GGUFReader
    takes seconds on a file with a 49,152-token vocabulary)."""
    reader = GGUFReader(path)
    return ({t.name: (t.tensor_type.name, t.data.tobytes()) for t in reader.tensors},
            {key: value.parts[-1].tobytes() for key, value in reader.fields.items()})


def tensors(path):
    return parsed(str(path), os.stat(path).st_mtime_ns)[0]


def field(path, key):
    return parsed(str(path), os.stat(path).st_mtime_ns)[1].get(key)


def quantize_both(f16, file_type, imatrix=None, tag=""):
    """llama-quantize's file and ours for the same input and settings (2 threads each)."""
    pure = file_type in SINGLE
    extra = ["--imatrix", str(imatrix)] if imatrix else []
    reference = f16.parent / f"llama-{file_type}{tag}.gguf"
    subprocess.run([llama_cpp("llama-quantize"), *(["--pure"] if pure else []), *extra, str(f16), str(reference),
                    file_type, "2"], check=True, capture_output=True)
    ours = f16.parent / f"amalgam-{file_type}{tag}.gguf"
    amalgam("convert", str(f16), str(ours), "--quant", file_type.lower(), *extra, "--force")
    return reference, ours


def assert_same_tensors(reference, ours):
    theirs, mine = tensors(reference), tensors(ours)
    assert set(theirs) == set(mine)
    types = {name: (theirs[name][0], mine[name][0]) for name in theirs if theirs[name][0] != mine[name][0]}
    assert not types, f"{len(types)} tensors of another type: {list(types.items())[:4]}"
    different = [name for name in theirs if theirs[name][1] != mine[name][1]]
    assert not different, f"{len(different)} of {len(theirs)} tensors differ: {different[:4]}"


@pytest.mark.parametrize("file_type", MIXTURES + SINGLE)
def test_tensors_equal_llama_quantize(f16, file_type):
    reference, ours = quantize_both(f16, file_type)
    assert_same_tensors(reference, ours)
    if file_type not in SINGLE:
        # A mixture's general.file_type is llama.cpp's for it (Q4_K_M = 15 ...).
        assert struct.unpack("<I", field(ours, "general.file_type"))[0] == FILE_TYPES[file_type]


def write_imatrix(model, path, rng):
    """An importance matrix in llama-imatrix's GGUF layout for every matrix of `model` (what
    llama-imatrix writes for a model without a vocabulary to run): per matrix NAME.in_sum2
    (sums of squared activations per column) and NAME.counts (tokens seen), plus its three keys."""
    writer = gguf.GGUFWriter(str(path), arch="imatrix")
    writer.add_array("imatrix.datasets", ["synthetic.txt"])
    writer.add_uint32("imatrix.chunk_count", 3)
    writer.add_uint32("imatrix.chunk_size", 512)
    for t in GGUFReader(str(model)).tensors:
        if len(t.shape) >= 2 and t.name != "token_embd.weight":
            columns = int(t.shape[0])
            writer.add_tensor(t.name + ".in_sum2", (rng.gamma(0.5, 2.0, columns) * 1536).astype(np.float32))
            writer.add_tensor(t.name + ".counts", np.array([1536.0], np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def imatrix(f16):
    """llama-imatrix's own output (GGUF) for SmolLM2, over 4 chunks of 128 tokens of WordNet
    glosses; for the synthetic llama, which has no vocabulary, one in the same layout."""
    path = f16.parent / "imatrix.gguf"
    if "smollm2" in str(f16.parent):
        text = f16.parent / "text.txt"
        definitions = [line.split(" | ", 1)[1].split(";")[0].strip()
                       for line in open("/usr/share/wordnet/data.noun", encoding="utf-8") if not line.startswith("  ")]
        text.write_text(" ".join(d[0].upper() + d[1:] + "." for d in definitions[:3000]))
        subprocess.run([llama_cpp("llama-imatrix"), "-m", str(f16), "-f", str(text), "-c", "128", "--chunks", "4",
                        "-t", "2", "--no-ppl", "-o", str(path)], check=True, capture_output=True)
        return path
    return write_imatrix(f16, path, np.random.default_rng(11))


# Every weighted encoder, on both models: the synthetic llama's whole 256-blocks reach every
# K-quant; SmolLM2's 576-wide rows fall back to Q4_0, Q5_0, Q5_1 and IQ4_NL, and Q4_1 is asked for.
WEIGHTED = {"synthetic": ["Q2_K_S"] + MIXTURES + [t for t in SINGLE if t != "Q8_0"],
            "smollm2": ["Q2_K_S", "Q3_K_M", "Q4_K_M", "Q5_K_M", "IQ4_XS", "Q6_K", "Q4_1"]}


@pytest.mark.parametrize("file_type", sorted(set(WEIGHTED["synthetic"])))
def test_tensors_equal_llama_quantize_with_imatrix(f16, imatrix, file_type):
    if file_type not in WEIGHTED["smollm2" if "smollm2" in str(f16.parent) else "synthetic"]:
        pytest.skip("covered on the other model (see WEIGHTED)")
    reference, ours = quantize_both(f16, file_type, imatrix, "-imatrix")
    assert_same_tensors(reference, ours)
    # llama-quantize records the matrix: its path, dataset, entry and chunk counts.
    for key in ["quantize.imatrix.file", "quantize.imatrix.dataset", "quantize.imatrix.entries_count",
                "quantize.imatrix.chunks_count"]:
        assert field(ours, key) == field(reference, key), key
    if file_type == "Q2_K_S":
        return  # it has no file without an importance matrix to compare with
    # The importance weights changed what was written: not the unweighted file.
    plain = f16.parent / f"amalgam-{file_type}.gguf"
    if not plain.exists():
        quantize_both(f16, file_type)
    unweighted = tensors(plain)
    changed = [name for name, (kind, data) in tensors(ours).items() if unweighted[name][1] != data]
    assert len(changed) >= 7, changed


@pytest.mark.parametrize("file_type", ["Q2_K", "Q5_1"])
def test_legacy_dat_imatrix_equals_llama_quantize(f16, imatrix, file_type):
    """The legacy .dat format: for SmolLM2 llama-imatrix's own (--output-format dat); for the
    synthetic llama, the GGUF matrix written in that layout (values times the call count)."""
    dat = f16.parent / "imatrix.dat"
    if not dat.exists():
        if "smollm2" in str(f16.parent):
            text = f16.parent / "text.txt"
            subprocess.run([llama_cpp("llama-imatrix"), "-m", str(f16), "-f", str(text), "-c", "128", "--chunks", "4",
                            "-t", "2", "--no-ppl", "--output-format", "dat", "-o", str(dat)], check=True,
                           capture_output=True)
        else:
            reader = GGUFReader(str(imatrix))
            sums = {t.name[:-len(".in_sum2")]: np.array(t.data) for t in reader.tensors if t.name.endswith(".in_sum2")}
            with open(dat, "wb") as out:
                out.write(struct.pack("<i", len(sums)))
                for name, values in sums.items():
                    out.write(struct.pack("<i", len(name)) + name.encode() + struct.pack("<ii", 3, len(values)))
                    out.write((values / 1536 * 3).astype(np.float32).tobytes())
                out.write(struct.pack("<i", 3) + struct.pack("<i", 13) + b"synthetic.txt")
    reference, ours = quantize_both(f16, file_type, dat, "-dat")
    assert_same_tensors(reference, ours)
    assert field(ours, "quantize.imatrix.chunks_count") == field(reference, "quantize.imatrix.chunks_count")


def test_q2_k_s_needs_an_importance_matrix(f16, tmp_path):
    """llama-quantize refuses Q2_K_S without an importance matrix, and so does --quant q2_k_s."""
    refused = subprocess.run([llama_cpp("llama-quantize"), str(f16), str(tmp_path / "l.gguf"), "Q2_K_S", "2"],
                             capture_output=True, text=True)
    assert refused.returncode != 0 and "requires an imatrix" in refused.stdout + refused.stderr
    result = amalgam("convert", str(f16), str(tmp_path / "a.gguf"), "--quant", "q2_k_s", check=False)
    assert result.returncode == 64  # a usage error
    assert "--quant q2_k_s needs an importance matrix (--imatrix FILE, from llama-imatrix)" in result.stderr
    assert not (tmp_path / "a.gguf").exists()


def test_imatrix_of_another_model_is_refused(f16, imatrix, tmp_path):
    """An entry whose length is not the tensor's row length (an imatrix of another model): one
    line naming the matrix file and the tensor, no output (llama-quantize stops there too)."""
    reader = GGUFReader(str(imatrix))
    wrong = tmp_path / "wrong.gguf"
    writer = gguf.GGUFWriter(str(wrong), arch="imatrix")
    writer.add_array("imatrix.datasets", ["x.txt"])
    writer.add_uint32("imatrix.chunk_count", 1)
    writer.add_uint32("imatrix.chunk_size", 512)
    for t in reader.tensors:
        data = np.array(t.data)
        if t.name == "blk.0.ffn_down.weight.in_sum2":
            data = data[:-32]
        writer.add_tensor(t.name, data.astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    result = amalgam("convert", str(f16), str(tmp_path / "out.gguf"), "--quant", "q4_k_m", "--imatrix", str(wrong),
                     check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(wrong) in lines[0] and "blk.0.ffn_down.weight" in lines[0], result.stderr
    assert "values for blk.0.ffn_down.weight, which has" in lines[0]
    assert not (tmp_path / "out.gguf").exists()


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
