"""Mutation fuzzing of every reader through the CLI: valid files of each format with random
byte flips, insertions, deletions and truncations must give exit 0 (still valid) or exit 1
with one line on stderr, never a crash, and never leave an output behind on failure.
Seeded, so a failure reproduces; FUZZ_CASES scales the run (default 60 per format)."""

import os
import subprocess

import numpy as np
import pytest
from safetensors.numpy import save_file

from helpers import AMALGAM

CASES = int(os.environ.get("FUZZ_CASES", "60"))


def seeds(tmp_path):
    import gguf
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    arrays = {"a.weight": rng.standard_normal((3, 4)).astype(np.float32), "a.bias": np.arange(4, dtype=np.float16), "n": np.arange(6, dtype=np.int64)}
    save_file(arrays, str(tmp_path / "s.safetensors"), metadata={"format": "pt"})
    np.savez(tmp_path / "s.npz", **arrays)
    np.savez_compressed(tmp_path / "c.npz", **arrays)
    writer = gguf.GGUFWriter(str(tmp_path / "s.gguf"), "llama")
    writer.add_uint32("llama.attention.head_count", 2)
    writer.add_array("t.strs", ["a", "bc"])
    writer.add_tensor("blk.0.attn_q.weight", gguf.quants.quantize(rng.standard_normal((4, 32)).astype(np.float32), gguf.GGMLQuantizationType.Q8_0),
                      raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("output_norm.weight", np.ones(32, np.float32))
    writer.write_header_to_file(); writer.write_kv_data_to_file(); writer.write_tensors_to_file(); writer.close()
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "onnx::MatMul_1"], ["y"], name="/layer/MatMul"),
         helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.ones(3, np.float32), "k")),
         helper.make_node("Cast", ["c_q"], ["c_f"], to=TensorProto.FLOAT), helper.make_node("Mul", ["c_f", "c_scale"], ["c"]),
         helper.make_node("MatMul", ["y", "c"], ["z"]), helper.make_node("Add", ["z", "head.bias"], ["o"]),
         helper.make_node("DequantizeLinear", ["d_q", "d_scale", "d_zero"], ["d"], axis=1), helper.make_node("MatMul", ["o", "d"], ["p"], name="/out/MatMul")],
        "g", [], [], initializer=[numpy_helper.from_array(arrays["a.weight"], "a.weight"), numpy_helper.from_array(np.ones((4, 2), np.float32), "onnx::MatMul_1"),
                                  helper.make_tensor("t", TensorProto.FLOAT16, [3], [1.0, 2.0, 3.0]),
                                  numpy_helper.from_array(np.arange(6, dtype=np.int8).reshape(2, 3), "c_q"), numpy_helper.from_array(np.full((1, 3), 0.5, np.float32), "c_scale"),
                                  numpy_helper.from_array(np.zeros(3, np.float32), "head.bias"),
                                  numpy_helper.from_array(np.arange(6, dtype=np.uint8).reshape(3, 2), "d_q"), numpy_helper.from_array(np.array([0.1, 0.2], np.float32), "d_scale"),
                                  numpy_helper.from_array(np.array([1, 2], np.uint8), "d_zero")])
    onnx.save(helper.make_model(graph), str(tmp_path / "s.onnx"))
    return {"safetensors": tmp_path / "s.safetensors", "npz": tmp_path / "s.npz", "npz-deflated": tmp_path / "c.npz",
            "gguf": tmp_path / "s.gguf", "onnx": tmp_path / "s.onnx"}


def mutate(data, rng):
    data = bytearray(data)
    for _ in range(int(rng.integers(1, 6))):
        position = int(rng.integers(0, max(len(data), 1)))
        kind = int(rng.integers(0, 5))
        if kind == 0:
            data[position:position + 1] = bytes([int(rng.integers(0, 256))])
        elif kind == 1:
            data[position:position] = bytes(rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8))
        elif kind == 2:
            del data[position:position + int(rng.integers(1, 17))]
        elif kind == 3:
            data[position:position + 4] = b"\xff\xff\xff\x7f"
        else:
            del data[position:]
    return bytes(data)


@pytest.mark.parametrize("label", ["safetensors", "npz", "npz-deflated", "gguf", "onnx"])
def test_mutated_files_never_crash_a_reader(tmp_path, label):
    original = seeds(tmp_path)[label]
    data = original.read_bytes()
    rng = np.random.default_rng(sum(label.encode()))
    extension = original.suffix
    fmt = {"npz-deflated": "npz"}.get(label, label)
    for case in range(CASES):
        path = tmp_path / f"m{extension}"
        mutated = mutate(data, rng)
        path.write_bytes(mutated)
        out = tmp_path / "out.npz"
        if out.exists():
            out.unlink()
        for command in (["convert", str(path), str(out), "--from", fmt, "--keep-dtype"], ["inspect", str(path), "--from", fmt, "--verify"]):
            result = subprocess.run([AMALGAM, *command], capture_output=True, text=True)
            assert result.returncode in (0, 1), f"case {case}: {command[0]} exited {result.returncode}: {result.stderr[-500:]}"
            if result.returncode == 1:
                assert result.stderr.count("\n") == 1, f"case {case}: {result.stderr}"
                if command[0] == "convert":
                    assert not out.exists()
        assert path.read_bytes() == mutated
