"""Interop between Amalgam and the reference `safetensors` library (with numpy, ml_dtypes).

Run by `make test` with AMALGAM pointing at the built executable. Every check is
bit-exact: files the reference writes are read by Amalgam unchanged, and files Amalgam
writes load in the reference unchanged (byte-identical where the reference is
deterministic).
"""

import fractions
import json
import os
import struct
import subprocess

import ml_dtypes
import numpy as np
import pytest
from helpers import amalgam, random_array
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

DTYPES = {
    "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16, "F64": np.float64,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U64": np.uint64, "U32": np.uint32, "U16": np.uint16, "U8": np.uint8, "BOOL": np.bool_,
    "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2, "C64": np.complex64,
}






def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture
def reference_model(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {f"t.{name.lower()}": random_array(dtype, (3, 5), rng) for name, dtype in DTYPES.items()}
    tensors["scalar"] = np.array(2.5, dtype=np.float32)
    tensors["empty"] = np.zeros((0, 4), dtype=np.float32)
    tensors["embeddings.word_embeddings.weight"] = rng.standard_normal((64, 16)).astype(np.float32)
    path = tmp_path / "ref.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt"})
    return path, tensors


def test_reads_every_reference_dtype_exactly(reference_model, tmp_path):
    path, tensors = reference_model
    document = json.loads(amalgam("inspect", str(path), "--json").stdout)
    assert document["tensor_count"] == len(tensors)
    assert document["metadata"] == {"format": "pt"}
    by_name = {t["name"]: t for t in document["tensors"]}
    with safe_open(str(path), framework="numpy") as f:
        for name in f.keys():
            assert by_name[name]["shape"] == list(tensors[name].shape)
            assert by_name[name]["bytes"] == tensors[name].nbytes
    # Values: a plain convert must reproduce the reference file byte for byte.
    out = tmp_path / "copy.safetensors"
    amalgam("convert", str(path), str(out))
    assert out.read_bytes() == path.read_bytes()
    raw = raw_tensors(out)
    with safe_open(str(out), framework="numpy") as f:
        for name, array in tensors.items():
            if name.startswith("t.f8"):
                # safetensors' numpy binding cannot load F8 (numpy has no such dtype).
                assert raw[name] == array.tobytes(), name
            else:
                assert same_bits(f.get_tensor(name), array), name


def test_written_files_equal_reference_writer(tmp_path):
    """Amalgam's own writer (a bf16 conversion) produces what the reference would write."""
    rng = np.random.default_rng(3)
    arrays = {f"model.layers.{i}.self_attn.q_proj.weight": rng.standard_normal((48, 32), np.float32) for i in range(3)}
    arrays["model.norm.weight"] = rng.standard_normal(32, np.float32)
    original = tmp_path / "model.safetensors"
    save_file(arrays, str(original))
    ours = tmp_path / "model-bf16.safetensors"
    amalgam("convert", str(original), str(ours), "--dtype", "bf16")
    loaded = load_file(str(ours))
    with safe_open(str(ours), framework="numpy") as f:
        metadata = f.metadata()
    rewritten = tmp_path / "rewritten.safetensors"
    save_file(loaded, str(rewritten), metadata={"format": metadata["format"]})
    # Only differences allowed: the extra "producer" metadata key. Compare after dropping it.
    stripped = tmp_path / "stripped.safetensors"
    amalgam("convert", str(rewritten), str(stripped))
    assert stripped.read_bytes() == rewritten.read_bytes()
    assert metadata["format"] == "pt"
    assert loaded["model.layers.0.self_attn.q_proj.weight"].dtype == ml_dtypes.bfloat16
    expected = arrays["model.layers.0.self_attn.q_proj.weight"].astype(ml_dtypes.bfloat16)
    assert same_bits(loaded["model.layers.0.self_attn.q_proj.weight"], expected)


@pytest.mark.parametrize("source", [np.float32, np.float64, np.float16, ml_dtypes.bfloat16])
@pytest.mark.parametrize("target", ["f16", "bf16", "f32"])
def test_dtype_conversion_matches_reference_rounding(tmp_path, source, target):
    rng = np.random.default_rng(1)
    values = random_array(source, (4096,), rng)
    if np.dtype(source) == np.float64:
        # Values near the f16/bf16 halfway points, where rounding through f32 would go wrong.
        halfway = 1 + 2.0 ** -11 + 2.0 ** -40 * rng.integers(-1, 2, size=1024)
        values = np.concatenate([values, halfway, 1 + 2.0 ** -8 + 2.0 ** -40 * rng.integers(-1, 2, size=1024)])
    path = tmp_path / "in.safetensors"
    save_file({"x": values}, str(path))
    out = tmp_path / "out.safetensors"
    amalgam("convert", str(path), str(out), "--dtype", target)
    got = load_file(str(out))["x"]
    target_dtype = {"f16": np.float16, "bf16": ml_dtypes.bfloat16, "f32": np.float32}[target]
    assert got.dtype == np.dtype(target_dtype)
    with np.errstate(all="ignore"):
        if np.dtype(source) == np.float64 and target == "bf16":
            # ml_dtypes rounds f64 -> bf16 through f32 (double rounding); check against exact
            # rational rounding instead.
            expected = np.array([exact_bf16(v) for v in values], dtype=np.uint16).view(ml_dtypes.bfloat16)
        else:
            expected = values.astype(target_dtype)
        wide = values.astype(np.float64)
    finite = np.isfinite(wide)
    assert same_bits(got[finite], expected[finite])
    assert same_bits(got[np.isinf(wide)], expected[np.isinf(wide)])
    assert np.isnan(got[np.isnan(wide)].astype(np.float32)).all()
    if target == "f16" and np.dtype(source) in (np.float32, np.float64):
        # numpy keeps NaN payloads bit for bit; so do we.
        assert same_bits(got, expected)


def exact_bf16(value):
    """Correctly rounded f64 -> bf16 bits, by exact rational arithmetic. Infinity takes part
    as the value 2^128 (IEEE overflow rule); ties go to the even pattern."""
    value = float(value)
    if value < 0 or (value == 0 and np.signbit(value)):
        return exact_bf16(-value) | 0x8000
    if not np.isfinite(value):
        return 0x7F80
    low = int(np.array(value, dtype=np.float64).astype(np.float32).view(np.uint32)) >> 16
    candidates = []
    for bits in (low - 1, low, low + 1):
        if 0 <= bits <= 0x7F80:
            exact = fractions.Fraction(2) ** 128 if bits == 0x7F80 else fractions.Fraction(
                float(np.array(bits, dtype=np.uint16).view(ml_dtypes.bfloat16).astype(np.float64)))
            candidates.append((abs(exact - fractions.Fraction(value)), bits & 1, bits))
    return min(candidates)[2]


def raw_tensors(path):
    """Tensor bytes located through the header, for dtypes numpy cannot load (F8)."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    base = 8 + length
    return {name: data[base + e["data_offsets"][0]: base + e["data_offsets"][1]]
            for name, e in header.items() if name != "__metadata__"}


def test_reads_reference_sharded_checkpoint(tmp_path):
    rng = np.random.default_rng(2)
    tensors = {f"model.layers.{i}.mlp.up_proj.weight": rng.standard_normal((8, 4)).astype(np.float32) for i in range(5)}
    names = sorted(tensors)
    shards = {"model-00001-of-00002.safetensors": names[:3], "model-00002-of-00002.safetensors": names[3:]}
    weight_map = {}
    for shard, members in shards.items():
        save_file({n: tensors[n] for n in members}, str(tmp_path / shard), metadata={"format": "pt"})
        weight_map.update({n: shard for n in members})
    index = {"metadata": {"total_size": sum(t.nbytes for t in tensors.values())}, "weight_map": weight_map}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    for target in (tmp_path, tmp_path / "model.safetensors.index.json"):
        out = tmp_path / f"merged-{target.name}.safetensors"
        amalgam("convert", str(target), str(out))
        loaded = load_file(str(out))
        assert sorted(loaded) == names
        for name in names:
            assert same_bits(loaded[name], tensors[name])


def test_writes_sharded_checkpoint_the_reference_loads(tmp_path, reference_model):
    path, tensors = reference_model
    out = tmp_path / "sharded"
    amalgam("convert", str(path), str(out) + "/", "--max-shard-size", "400B")
    index = json.loads((out / "model.safetensors.index.json").read_text())
    shard_files = sorted(set(index["weight_map"].values()))
    assert len(shard_files) > 1
    assert shard_files == sorted(f.name for f in out.glob("model-*-of-*.safetensors"))
    assert index["metadata"]["total_size"] == sum(t.nbytes for t in tensors.values())
    loaded = {}
    for shard in shard_files:
        with safe_open(str(out / shard), framework="numpy") as f:
            assert all(index["weight_map"][name] == shard for name in f.keys())
            raw = raw_tensors(out / shard)
            loaded.update({n: (raw[n] if n.startswith("t.f8") else f.get_tensor(n)) for n in f.keys()})
    assert sorted(loaded) == sorted(tensors)
    for name, array in tensors.items():
        if name.startswith("t.f8"):
            assert loaded[name] == array.tobytes(), name
        else:
            assert same_bits(loaded[name], array), name


def test_refuses_file_the_reference_silently_accepts(tmp_path):
    """Duplicate names: the Python reference keeps the last one; Amalgam refuses."""
    header = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'
    path = tmp_path / "dup.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0))
    result = amalgam("convert", str(path), str(tmp_path / "out.safetensors"), check=False)
    assert result.returncode == 1
    assert result.stderr == f'amalgam convert: error: {path}: at byte 62: header: invalid JSON: duplicate key "a"\n'
    assert not (tmp_path / "out.safetensors").exists()
