"""Every reader's malformed-file corpus through inspect, convert and merge (issue 16, item 2).

At least 30 crafted files per format, covering the guards of FORMATS.md and the known
attacks (the per-format lists live beside the format's interop tests; the cases added here
complete them). Each file, under an address-space limit of RLIMIT_GIB, must make every command
exit 1 with one stderr line that names the file and contains the expected message, write no
output, and leave the input's bytes as they were.
"""

import hashlib
import json
import os
import resource
import struct
import subprocess
import zlib

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file

import test_gguf_interop as gguf_cases
import test_npz_interop as npz_cases
import test_onnx_interop as onnx_cases
import test_pytorch_interop as torch_cases
from helpers import AMALGAM

RLIMIT_GIB = 1


def safetensors_file(header, data=b"", declared=None):
    text = header if isinstance(header, bytes) else header.encode()
    return struct.pack("<Q", len(text) if declared is None else declared) + text + data


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def st(entries, data=bytes(8), **kwargs):
    return safetensors_file(json.dumps(entries), data, **kwargs)


SAFETENSORS = [
    ("empty file", b"", "file is 0 bytes, too short for the 8-byte header length"),
    ("short file", b"\1\2\3", "too short"),
    ("absurd header length", safetensors_file("{}", declared=1 << 40), "header length 1099511627776 exceeds the limit of 100000000 bytes"),
    ("header past end", safetensors_file("{}", declared=50), "header length 50 runs past the end of the 10-byte file"),
    ("not JSON", safetensors_file("{nope}"), "header: invalid JSON: expected a string key"),
    ("invalid UTF-8", safetensors_file(b'{"\xff":1}'), "invalid UTF-8"),
    ("not an object", safetensors_file("[]"), "header does not start with '{'"),
    ("duplicate names", safetensors_file('{"a":' + json.dumps(entry(shape=(1,), offsets=(0, 4))) + ',"a":'
                                         + json.dumps(entry(shape=(1,), offsets=(4, 8))) + "}", bytes(8)), 'duplicate key "a"'),
    ("unknown dtype", st({"a": entry(dtype="F7")}), "unknown dtype 'F7'"),
    ("unsupported dtype", st({"a": entry(dtype="F8_E8M0", shape=(8,))}), "dtype F8_E8M0 is not supported"),
    ("negative dimension", st({"a": entry(shape=(-2,))}), "holds something other than a non-negative integer"),
    ("overflowing shape", st({"a": entry(shape=(2**32, 2**32))}), "overflows"),
    ("byte size overflow", st({"a": entry(dtype="F64", shape=(2**61,))}), "byte size of shape [2305843009213693952] overflows"),
    ("size mismatch", st({"a": entry(shape=(3,))}), "data_offsets [0, 8] hold 8 bytes but F32 [3] needs 12"),
    ("gap", st({"a": entry(shape=(1,), offsets=(4, 8))}), "leaves a gap of 4 bytes"),
    ("overlap", st({"a": entry(), "b": entry(shape=(1,), offsets=(4, 8))}), "overlaps the tensor before it"),
    ("truncated data", st({"a": entry(shape=(4,), offsets=(0, 16))}), "run past the end of the data section (8 bytes): file truncated?"),
    ("trailing bytes", st({"a": entry(shape=(1,), offsets=(0, 4))}), "4 trailing bytes after the last tensor"),
    ("reversed offsets", st({"a": entry(shape=(0,), offsets=(8, 0))}), "end before they begin"),
    ("three offsets", st({"a": entry(offsets=(0, 8, 8))}), "'data_offsets' must be two non-negative integers"),
    ("non-string metadata", st({"__metadata__": {"n": 1}}, b""), "__metadata__ value of 'n' is a number, not a string"),
    ("missing dtype", st({"a": {"shape": [2], "data_offsets": [0, 8]}}), "missing or non-string 'dtype'"),
    ("deep nesting", safetensors_file('{"a":' + "[" * 5000 + "]" * 5000 + "}"), "nesting deeper than 64 levels"),
    ("offset beyond Int", st({"a": entry(dtype="U8", shape=(0,), offsets=(2**64 - 1, 2**64 - 1))}, b""), "are too large"),
    ("dtype not a string", st({"a": entry(dtype=7)}), "missing or non-string 'dtype'"),
    ("shape not an array", st({"a": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}}), "missing or non-array 'shape'"),
    ("entry not an object", st({"a": [1, 2]}), "entry is an array, not an object"),
    ("offsets as strings", st({"a": entry(offsets=("0", "8"))}), "'data_offsets' must be two non-negative integers"),
    ("fractional dimension", st({"a": entry(shape=(2.5,))}), "holds something other than a non-negative integer"),
    ("metadata not an object", st({"__metadata__": [1]}, b""), "__metadata__ is an array, not an object"),
    ("bytes after the JSON", safetensors_file('{}  x'), "header: invalid JSON"),
    ("header of NUL bytes", safetensors_file(bytes(16)), "header does not start with '{'"),
    ("negative offset", st({"a": entry(offsets=(-8, 0))}), "'data_offsets' must be two non-negative integers"),
]

NPY = [(label, data, message) for label, kind, data, message in npz_cases.MALFORMED if kind == "npy"]
NPZ = [(label, data, message) for label, kind, data, message in npz_cases.MALFORMED if kind == "npz"]


def npy_header(text, version=(1, 0), data=bytes(8), declared=None):
    body = text.encode("latin1")
    if version == (1, 0):
        head = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body) if declared is None else declared)
    else:
        head = b"\x93NUMPY" + bytes(version) + struct.pack("<I", len(body) if declared is None else declared)
    return head + body + data


def dict_header(descr="'<f4'", order="False", shape="(2,)", extra=""):
    return "{'descr': %s, 'fortran_order': %s, 'shape': %s, %s}\n" % (descr, order, shape, extra)


NPY += [
    ("empty .npy", b"", "missing the \\x93NUMPY magic"),
    ("magic only", b"\x93NUMPY", "missing the \\x93NUMPY magic"),
    ("no header length", b"\x93NUMPY\x01\x00\x05", "missing the \\x93NUMPY magic"),
    ("header length past end", npy_header(dict_header(), declared=5000, data=b""), "runs past the end"),
    ("header not a dict", npy_header("[1, 2, 3]\n"), ".npy header: expected '{'"),
    ("missing descr", npy_header("{'fortran_order': False, 'shape': (2,), }\n"), "'descr' is missing or not a string"),
    ("missing shape", npy_header("{'descr': '<f4', 'fortran_order': False, }\n"), "'shape' is missing or not a tuple"),
    ("missing fortran_order", npy_header("{'descr': '<f4', 'shape': (2,), }\n"), "'fortran_order' is missing or not True/False"),
    ("unknown dtype", npy_header(dict_header(descr="'<q9'")), "descr '<q9' is not a dtype Amalgam supports"),
    ("structured dtype", npy_header(dict_header(descr="[('a', '<f4')]")), "structured"),
    ("negative dimension", npy_header(dict_header(shape="(-2,)")), ".npy header: unexpected '-'"),
    ("shape overflow", npy_header(dict_header(shape="(4294967296, 4294967296)")), "overflow"),
    ("shape not a tuple", npy_header(dict_header(shape="[2]")), "shape"),
    ("fortran_order not a bool", npy_header(dict_header(order="1")), "fortran_order"),
    ("unterminated string", npy_header("{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }\n"), "header"),
    ("fractional dimension", npy_header(dict_header(shape="(2.0,)")), ".npy header: expected ')'"),
    ("version 2 header past end", npy_header(dict_header(), version=(2, 0), declared=2**31, data=b""), "header"),
    ("oversized version 3 header", npy_header(dict_header(), version=(3, 0), declared=2**32 - 1, data=b""), "header"),
    ("duplicate key", npy_header("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n"), "'descr'"),
    ("object dtype", npy_header(dict_header(descr="'|O'")), "pickled Python object array"),
    ("string dtype", npy_header(dict_header(descr="'<U4'")), "dtype"),
    ("data for fewer elements", npy_header(dict_header(shape="(3,)")), "array data is truncated"),
    ("huge array, short file", npy_header(dict_header(shape="(1000000000000,)")), "truncated"),
    ("NUL in header", npy_header("{'descr': '<f4'\0, 'fortran_order': False, 'shape': (2,), }\n"), "header"),
    ("nested parentheses", npy_header(dict_header(shape="((2,),)")), "shape"),
    ("deep nesting", npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 3000 + ")" * 3000 + ", }\n"), "header"),
]


def stored(name, data, **extra):
    return dict(name=name, data=data, **extra)


def deflated(data):
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


SMALL = npz_cases.SMALL
NPZ += [
    ("empty member", npz_cases.raw_zip([stored("a.npy", b"")]), "member 'a.npy': not a .npy array"),
    ("corrupt deflate stream", npz_cases.raw_zip([stored("a.npy", b"\xff" * 40, method=8, plain=SMALL)]), "member 'a.npy': corrupt deflate stream (invalid block type)"),
    ("truncated deflate stream", npz_cases.raw_zip([stored("a.npy", deflated(SMALL)[:-10], method=8, plain=SMALL)]), "member 'a.npy': deflate stream is truncated"),
    ("member past end", npz_cases.raw_zip([stored("a.npy", SMALL, csize=1 << 20)]), "stored member 'a.npy' has inconsistent sizes"),
    ("NUL in member name", npz_cases.raw_zip([stored("a\0b.npy", SMALL)]), "name"),
    ("central directory cut", npz_cases.raw_zip([stored("a.npy", SMALL)])[:-30], "end-of-central-directory"),
    ("trailing bytes in member", npz_cases.raw_zip([stored("a.npy", SMALL + b"xx")]), "the archive records 170 bytes but its npy header (<f4 [10]) implies 168"),
    ("truncated member array", npz_cases.raw_zip([stored("a.npy", SMALL[:-8])]), "the archive records 160 bytes but its npy header (<f4 [10]) implies 168"),
    ("zip64 record forged", npz_cases.raw_zip([stored("a.npy", SMALL)], count=0xFFFF), "end record defers to a ZIP64 record that is missing"),
]

ONNX_EXTRA = [
    ("empty file", b"", "the ModelProto has no graph"),
    ("initializer not a message", onnx_cases.varint(1 << 3) + onnx_cases.varint(8)
     + onnx_cases.field(7, onnx_cases.varint(5 << 3) + onnx_cases.varint(3)), "field 5"),
    ("unnamed initializer", onnx_cases.weights_model([TensorProto(data_type=TensorProto.FLOAT, dims=[1], raw_data=bytes(4))]).SerializeToString(), "name"),
    ("duplicate initializer", onnx_cases.weights_model([numpy_helper.from_array(np.zeros(2, np.float32), "w")] * 2).SerializeToString(), "'w'"),
    ("float16 raw data odd", onnx_cases.weights_model([TensorProto(name="w", data_type=TensorProto.FLOAT16, dims=[2], raw_data=bytes(3))]).SerializeToString(), "raw_data holds 3 bytes"),
    ("huge varint length", onnx_cases.varint(1 << 3) + onnx_cases.varint(8) + onnx_cases.varint(7 << 3 | 2) + b"\xff" * 9 + b"\x01", "truncated protobuf"),
]

MARKER = "__unknown__"


def cases(tmp_path):
    """(format, label, file name, bytes, message) for every case; ONNX's need files beside them."""
    onnx = onnx_cases.malformed_cases(tmp_path) + ONNX_EXTRA
    out = [("safetensors", label, "bad.safetensors", data, message) for label, data, message in SAFETENSORS]
    out += [("gguf", label, "bad.gguf", data, message) for label, data, message in gguf_cases.MALFORMED]
    out += [("npy", label, "bad.npy", data, message) for label, data, message in NPY]
    out += [("npz", label, "bad.npz", data, message) for label, data, message in NPZ]
    out += [("onnx", label, "model/m.onnx", data, message) for label, data, message in onnx]
    for label, (payload, message) in torch_cases.MALICIOUS.items():
        out.append(("pytorch", label, "evil.bin", ("pytorch", payload), message))
    return out


def all_labels():
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        return [(fmt, label) for fmt, label, _, _, _ in cases(__import__("pathlib").Path(folder))]


ALL = all_labels()


def test_every_format_has_thirty_cases():
    counts = {fmt: sum(1 for f, _ in ALL if f == fmt) for fmt, _ in ALL}
    assert all(count >= 30 for count in counts.values()), counts
    assert len(set(ALL)) == len(ALL)


def limited():
    limit = RLIMIT_GIB << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run(*args):
    return subprocess.run([AMALGAM, *args], capture_output=True, text=True, preexec_fn=limited,
                          env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})


@pytest.mark.parametrize("fmt,label", ALL, ids=[f"{f}/{l}" for f, l in ALL])
def test_malformed_file_fails_cleanly_everywhere(fmt, label, tmp_path):
    found = {(f, l): (name, data, message) for f, l, name, data, message in cases(tmp_path)}
    name, data, message = found[(fmt, label)]
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    if isinstance(data, tuple):
        torch_cases.archive(path, data[1], {"archive/data/0": b"\x00" * 16})
    else:
        path.write_bytes(data)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    base = tmp_path / "base.safetensors"
    save_file({"w": np.zeros(4, np.float32)}, str(base))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    out = tmp_path / "out" / "merged.safetensors"
    commands = {
        "inspect": ["inspect", str(path), "--from", fmt, "--verify"],
        "convert": ["convert", str(path), str(out), "--from", fmt],
        "merge": ["merge", "--base", str(path), "--source", str(path), "--source", str(path), "--output", str(out),
                  "--method", "average"],
    }
    for command, arguments in commands.items():
        result = run(*arguments)
        if message == MARKER:
            print(command, result.stderr)
        assert result.returncode == 1, (command, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (command, result.stderr)
        assert lines[0].startswith(f"amalgam {command}: error: {path}"), (command, lines[0])
        assert message in lines[0], (command, lines[0])
        assert result.stdout == "" or command == "merge", (command, result.stdout)
        assert not out.exists() and not out.parent.exists(), command
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
