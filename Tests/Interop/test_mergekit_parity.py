"""mergekit parity: the same configuration (mergekit's YAML, in its documented style) run by
`mergekit-yaml` and by `amalgam run CONFIG --output OUT/` on a synthetic llama model gives
the same tensors: bit for bit where the arithmetic is the same (f32 sums in the same order),
within a stated bound where mergekit's torch reductions sum in another order (norms and dot
products of the spherical methods, model_stock's cosines, sce's variances), and in
distribution for the random methods (dare, della), whose generator is torch's."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

AMALGAM = os.environ.get("AMALGAM", ".build/release/amalgam")
MERGEKIT = os.path.join(os.path.dirname(sys.executable), "mergekit-yaml")
LAYERS = 4
HIDDEN = 64
FFN = 96
VOCAB = 80

pytestmark = pytest.mark.skipif(not os.path.exists(MERGEKIT), reason="mergekit is not installed in the test venv")


def llama_config():
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": VOCAB,
        "max_position_embeddings": 128,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
    }


def llama_shapes():
    kv = HIDDEN // 4 * 2
    shapes = {"model.embed_tokens.weight": (VOCAB, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        shapes[p + "input_layernorm.weight"] = (HIDDEN,)
        shapes[p + "self_attn.q_proj.weight"] = (HIDDEN, HIDDEN)
        shapes[p + "self_attn.k_proj.weight"] = (kv, HIDDEN)
        shapes[p + "self_attn.v_proj.weight"] = (kv, HIDDEN)
        shapes[p + "self_attn.o_proj.weight"] = (HIDDEN, HIDDEN)
        shapes[p + "post_attention_layernorm.weight"] = (HIDDEN,)
        shapes[p + "mlp.gate_proj.weight"] = (FFN, HIDDEN)
        shapes[p + "mlp.up_proj.weight"] = (FFN, HIDDEN)
        shapes[p + "mlp.down_proj.weight"] = (HIDDEN, FFN)
    shapes["model.norm.weight"] = (HIDDEN,)
    shapes["lm_head.weight"] = (VOCAB, HIDDEN)
    return shapes


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A base and three fine-tunes (base + a shared direction + their own), as HF folders."""
    root = tmp_path_factory.mktemp("mergekit_models")
    rng = np.random.default_rng(14)
    base = {n: (rng.standard_normal(s) * 0.05 + (1.0 if len(s) == 1 else 0.0)).astype(np.float32)
            for n, s in llama_shapes().items()}
    shared = {n: rng.standard_normal(v.shape).astype(np.float32) * 0.01 for n, v in base.items()}
    paths = {}
    for name, tensors in [("base", base)] + [
        (f"ft{k}", {n: (v + shared[n] + rng.standard_normal(v.shape).astype(np.float32) * 0.01).astype(np.float32)
                    for n, v in base.items()})
        for k in range(3)
    ]:
        folder = root / name
        folder.mkdir()
        save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
        (folder / "config.json").write_text(json.dumps(llama_config()))
        paths[name] = str(folder)
    return paths


def mergekit_yaml(config, out):
    """What `mergekit-yaml CONFIG OUT --random-seed 0` does, in this process: torch and
    mergekit are imported once for the whole file instead of once per configuration."""
    import yaml
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    options = MergeOptions(random_seed=0, quiet=True)
    options.apply_global_options()
    text = open(config, encoding="utf-8").read()
    run_merge(MergeConfiguration.model_validate(yaml.safe_load(text)), str(out), options=options, config_source=text)


def run_both(tmp_path, models, config_text):
    """The configuration through mergekit-yaml and through amalgam run; both outputs' tensors."""
    text = config_text
    for name, path in models.items():
        text = text.replace("{" + name + "}", path)
    config = tmp_path / "config.yml"
    config.write_text(text)
    reference = tmp_path / "mergekit_out"
    mergekit_yaml(config, reference)
    ours = tmp_path / "amalgam_out"
    done = subprocess.run([AMALGAM, "run", str(config), "--output", str(ours) + "/"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    theirs = {}
    for file in sorted(os.listdir(reference)):
        if file.endswith(".safetensors"):
            theirs.update(load_file(str(reference / file)))
    mine = {}
    for file in sorted(os.listdir(ours)):
        if file.endswith(".safetensors"):
            mine.update(load_file(str(ours / file)))
    assert sorted(mine) == sorted(theirs)
    return mine, theirs


def largest_difference(mine, theirs):
    """Over all tensors: the largest |difference| relative to the tensor's largest |value|."""
    worst = 0.0
    for name in theirs:
        assert mine[name].dtype == theirs[name].dtype, name
        scale = float(np.abs(theirs[name].astype(np.float64)).max()) or 1.0
        worst = max(worst, float(np.abs(mine[name].astype(np.float64) - theirs[name].astype(np.float64)).max()) / scale)
    return worst


# Each case: a configuration in mergekit's documented style, and the bound on the relative
# difference (0: bit for bit).
CASES = {
    "linear": (0.0, """
        merge_method: linear
        models:
          - model: {ft0}
            parameters:
              weight: 0.5
          - model: {ft1}
            parameters:
              weight: [0.1, 0.9]     # a gradient over the layers
          - model: {ft2}
            parameters:
              weight:
                - filter: self_attn
                  value: 0.7
                - value: 0.2
        dtype: float32
        """),
    "linear_unnormalized": (0.0, """
        merge_method: linear
        models:
          - model: {base}
            parameters: {weight: 1.0}
          - model: {ft0}
            parameters: {weight: 0.3}
        parameters:
          normalize: false
        dtype: float32
        """),
    "task_arithmetic": (0.0, """
        merge_method: task_arithmetic
        base_model: {base}
        models:
          - model: {ft0}
            parameters:
              weight: 0.6
          - model: {ft1}
            parameters:
              weight: [0.2, 0.4, 0.8]
          - model: {ft2}
            parameters:
              weight: 0.3
        parameters:
          lambda: 0.9
        dtype: float32
        """),
    "ties": (0.0, """
        merge_method: ties
        base_model: {base}
        models:
          - model: {base}
          - model: {ft0}
            parameters:
              density: 0.5
              weight: 0.5
          - model: {ft1}
            parameters:
              density: [1, 0.7, 0.1]
              weight: 0.3
          - model: {ft2}
            parameters:
              density: 0.33
              weight: [{filter: mlp, value: 0.8}, {value: 0.4}]
        parameters:
          normalize: true
          int8_mask: true
        dtype: float32
        """),
    "ties_unnormalized": (0.0, """
        merge_method: ties
        base_model: {base}
        models:
          - model: {ft0}
          - model: {ft1}
        parameters:
          weight: 1.0
          density: 0.4
          normalize: false
        dtype: float32
        """),
    "breadcrumbs": (0.0, """
        merge_method: breadcrumbs
        base_model: {base}
        models:
          - model: {ft0}
            parameters: {weight: 0.5, density: 0.8, gamma: 0.05}
          - model: {ft1}
            parameters: {weight: 0.5, density: 0.7, gamma: 0.01}
        dtype: float32
        """),
    "breadcrumbs_ties": (0.0, """
        merge_method: breadcrumbs_ties
        base_model: {base}
        models:
          - model: {ft0}
            parameters: {weight: 0.4, density: 0.9, gamma: 0.02}
          - model: {ft1}
            parameters: {weight: 0.3, density: 0.6, gamma: 0.05}
          - model: {ft2}
            parameters: {weight: 0.3, density: 0.75, gamma: 0.01}
        dtype: float32
        """),
    "dare_ties_density_1": (0.0, """
        merge_method: dare_ties
        base_model: {base}
        models:
          - model: {ft0}
            parameters: {weight: 0.5, density: 1.0}
          - model: {ft1}
            parameters: {weight: 0.5, density: 1.0}
        dtype: float32
        """),
    "della_linear_density_1": (0.0, """
        merge_method: della_linear
        base_model: {base}
        models:
          - model: {ft0}
            parameters: {weight: 0.5, density: 1.0, epsilon: 0.1}
          - model: {ft1}
            parameters: {weight: 0.5, density: 1.0, epsilon: 0.1}
        parameters:
          lambda: 1.1
        dtype: float32
        """),
    # The spherical methods: mergekit's torch reductions (chunked norms, dot products) sum in
    # another order than Amalgam's f64 sums, so the coefficients differ in their last bits.
    "slerp": (2e-6, """
        slices: null
        merge_method: slerp
        base_model: {base}
        models:
          - model: {base}
          - model: {ft0}
        parameters:
          t:
            - filter: self_attn
              value: [0, 0.5, 0.3, 0.7, 1]
            - filter: mlp
              value: [1, 0.5, 0.7, 0.3, 0]
            - value: 0.5
        dtype: float32
        """),
    "nuslerp": (2e-6, """
        merge_method: nuslerp
        base_model: {base}
        models:
          - model: {ft0}
            parameters: {weight: 0.6}
          - model: {ft1}
            parameters: {weight: 0.4}
        dtype: float32
        """),
    "nuslerp_rows_without_base": (2e-6, """
        merge_method: nuslerp
        models:
          - model: {ft0}
            parameters: {weight: 0.3}
          - model: {ft1}
            parameters: {weight: 0.7}
        parameters:
          nuslerp_flatten: false
        dtype: float32
        """),
    "multislerp": (2e-6, """
        merge_method: multislerp
        base_model: {base}
        models:
          - model: {ft0}
            parameters: {weight: 0.5}
          - model: {ft1}
            parameters: {weight: 0.3}
          - model: {ft2}
            parameters: {weight: 0.2}
        dtype: float32
        """),
    "karcher": (2e-6, """
        merge_method: karcher
        models:
          - model: {ft0}
          - model: {ft1}
          - model: {ft2}
        parameters:
          max_iter: 20
          tol: 1.0e-7
        dtype: float32
        """),
    "model_stock": (2e-6, """
        merge_method: model_stock
        base_model: {base}
        models:
          - model: {ft0}
          - model: {ft1}
          - model: {ft2}
        dtype: float32
        """),
    "model_stock_filter_wise": (2e-6, """
        merge_method: model_stock
        base_model: {base}
        models:
          - model: {ft0}
          - model: {ft1}
          - model: {ft2}
        parameters:
          filter_wise: true
        dtype: float32
        """),
    "sce": (2e-6, """
        merge_method: sce
        base_model: {base}
        models:
          - model: {ft0}
          - model: {ft1}
          - model: {ft2}
        parameters:
          select_topk: 0.5
        dtype: float32
        """),
    # Slices: layers stacked from ranges of the models (renumbered), or merged slice by slice.
    "passthrough": (0.0, """
        slices:
          - sources:
              - model: {ft0}
                layer_range: [0, 3]
          - sources:
              - model: {ft1}
                layer_range: [1, 4]
        merge_method: passthrough
        dtype: float32
        """),
    "passthrough_scaled": (0.0, """
        slices:
          - sources:
              - model: {ft0}
                layer_range: [0, 2]
          - sources:
              - model: {ft0}
                layer_range: [1, 3]
                parameters:
                  scale:
                    - filter: o_proj
                      value: 0.0
                    - filter: down_proj
                      value: 0.5
                    - value: 1.0
        merge_method: passthrough
        dtype: float32
        """),
    "slerp_slices": (2e-6, """
        slices:
          - sources:
              - model: {base}
                layer_range: [0, 4]
              - model: {ft0}
                layer_range: [0, 4]
        merge_method: slerp
        base_model: {base}
        parameters:
          t:
            - filter: self_attn
              value: [0, 0.5, 0.3, 0.7, 1]
            - filter: mlp
              value: [1, 0.5, 0.7, 0.3, 0]
            - value: 0.5
        dtype: float32
        """),
    "ties_slices": (0.0, """
        merge_method: ties
        base_model: {base}
        slices:
          - sources:
              - model: {base}
                layer_range: [0, 2]
              - model: {ft0}
                layer_range: [0, 2]
                parameters: {weight: 0.7, density: 0.5}
              - model: {ft1}
                layer_range: [0, 2]
                parameters: {weight: [0.2, 0.6], density: 0.3}
          - sources:
              - model: {base}
                layer_range: [2, 4]
              - model: {ft1}
                layer_range: [2, 4]
              - model: {ft2}
                layer_range: [2, 4]
                parameters: {weight: 0.9}
            parameters:
              density: 0.6
        parameters:
          weight: 0.5
        dtype: float32
        """),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_model_as_mergekit(tmp_path, models, case):
    bound, text = CASES[case]
    text = textwrap.dedent(text)
    if case == "slerp":
        text = text.replace("slices: null\n", "")
    mine, theirs = run_both(tmp_path, models, text)
    if case.startswith("passthrough"):
        # The layer count goes to config.json with the stacked layers.
        ours = json.loads((tmp_path / "amalgam_out" / "config.json").read_text())
        reference = json.loads((tmp_path / "mergekit_out" / "config.json").read_text())
        assert ours["num_hidden_layers"] == reference["num_hidden_layers"] == (6 if case == "passthrough" else 4)
    worst = largest_difference(mine, theirs)
    identical = sum(np.array_equal(mine[n], theirs[n]) for n in theirs)
    print(f"{case}: {identical}/{len(theirs)} tensors bit-identical, largest relative difference {worst:.2e}")
    if bound == 0:
        assert identical == len(theirs), f"largest relative difference {worst:.2e}"
    else:
        assert worst <= bound


@pytest.mark.parametrize("method", ["dare_ties", "dare_linear", "della", "della_linear"])
def test_random_methods_agree_in_distribution(tmp_path, models, method):
    """DARE and DELLA draw with torch's generator in mergekit and a seeded one here: the two
    merges keep the same share of each task vector and have updates of the same size."""
    epsilon = "\n              epsilon: 0.2" if method.startswith("della") else ""
    text = textwrap.dedent(f"""
        merge_method: {method}
        base_model: {{base}}
        models:
          - model: {{ft0}}
            parameters:
              weight: 0.5
              density: 0.5{epsilon}
          - model: {{ft1}}
            parameters:
              weight: 0.5
              density: 0.5{epsilon}
        dtype: float32
        """)
    mine, theirs = run_both(tmp_path, models, text)
    base = load_file(os.path.join(models["base"], "model.safetensors"))
    for name in ["model.layers.1.mlp.up_proj.weight", "model.layers.2.self_attn.q_proj.weight"]:
        ours, reference = mine[name] - base[name], theirs[name] - base[name]
        changed_ours, changed_reference = np.mean(ours != 0), np.mean(reference != 0)
        # Each of two sources keeps half its entries: 3/4 of the entries change, ± sampling.
        assert abs(changed_ours - changed_reference) < 0.05, (changed_ours, changed_reference)
        ratio = np.linalg.norm(ours) / np.linalg.norm(reference)
        assert 0.9 < ratio < 1.1, ratio


def test_errors_name_the_key(tmp_path, models):
    cases = [
        ("merge_method: ties\nbase_model: {base}\nmodels:\n  - model: {ft0}\n    parameters: {density: 0.5}\n",
         "ties needs the parameter 'weight' for the model {ft0} (or for all, 'parameters')"),
        ("merge_method: ties\nbase_model: {base}\nmodels:\n  - model: {ft0}\n    parameters: {weight: 1, densty: 0.5}\n",
         "a model's parameter 'densty' is not a parameter of ties (did you mean 'density'?)"),
        ("merge_method: slerp\nbase_model: {base}\nmodels:\n  - model: {ft0}\n",
         "slerp needs the parameter 't' ('parameters')"),
        ("merge_method: linear\nmodules: {}\nmodels:\n  - model: {ft0}\n",
         "'modules' is a mergekit key Amalgam does not support yet"),
        ("merge_method: linear\nmodels:\n  - model: {ft0}\n    parameters:\n\tweight: 1\n",
         "line 5, column 1: a tab in the indentation (YAML indents with spaces)"),
        ("merge_method: frankenmerge\nmodels:\n  - model: {ft0}\n", "merge_method 'frankenmerge' is not one of"),
        ("merge_method: nuslerp\nbase_model: {base}\nmodels:\n  - {model: {ft0}, parameters: {weight: 1}}\n"
         "  - {model: {ft1}, parameters: {weight: 1}}\n  - {model: {ft2}, parameters: {weight: 1}}\n",
         "nuslerp merges exactly two models besides the base (given 3)"),
        ("merge_method: model_stock\nbase_model: {base}\nmodels:\n  - model: {ft0}\n",
         "model_stock merges at least two models besides the base (given 1)"),
        ("merge_method: linear\nmodels:\n  - {model: {ft0}, parameters: {weight: 1}}\n"
         "  - {model: {ft1}, parameters: {weight: -1}}\n",
         "linear: the weights sum to 0 for this tensor, so normalizing divides by 0"),
        ("merge_method: linear\nmodels:\n  - model: {ft0}\n    parameters: {weight: [1, 2}\n",
         "line 4, column 31: expected ',' or ']' in a flow sequence"),
    ]
    for index, (text, expected) in enumerate(cases):
        for name, path in models.items():
            text = text.replace("{" + name + "}", path)
            expected = expected.replace("{" + name + "}", path)
        config = tmp_path / f"bad{index}.yml"
        config.write_text(text)
        out = tmp_path / f"out{index}"
        done = subprocess.run([AMALGAM, "run", str(config), "--output", str(out) + "/"], capture_output=True, text=True)
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (expected, done.stderr)
        assert not out.exists()


# Vocabularies that differ: fine-tunes that added tokens (extra embedding and head rows).
EXTRA_TOKENS = {"base": [], "ft0": ["<tool>", "<think>", "<end>"], "ft1": [], "ft2": ["<think>", "<img>"]}


@pytest.fixture(scope="module")
def vocab_models(tmp_path_factory):
    from tokenizers import Tokenizer, models as tokenizer_models, pre_tokenizers

    root = tmp_path_factory.mktemp("mergekit_vocab")
    rng = np.random.default_rng(15)
    base = {n: (rng.standard_normal(s) * 0.05 + (1.0 if len(s) == 1 else 0.0)).astype(np.float32)
            for n, s in llama_shapes().items()}
    paths = {}
    for name, extra in EXTRA_TOKENS.items():
        tokenizer = Tokenizer(tokenizer_models.WordPiece(vocab={f"w{i}": i for i in range(VOCAB)}, unk_token="w0"))
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
        tokenizer.add_tokens(extra)
        rows = VOCAB + len(extra)
        tensors = {}
        for n, v in base.items():
            tuned = v if name == "base" else v + rng.standard_normal(v.shape).astype(np.float32) * 0.01
            if n in ("model.embed_tokens.weight", "lm_head.weight"):
                tuned = np.concatenate([tuned, rng.standard_normal((len(extra), HIDDEN)).astype(np.float32) * 0.05])
            tensors[n] = tuned.astype(np.float32)
        folder = root / name
        folder.mkdir()
        save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
        config = llama_config() | {"vocab_size": rows}
        (folder / "config.json").write_text(json.dumps(config))
        tokenizer.save(str(folder / "tokenizer.json"))
        (folder / "tokenizer_config.json").write_text(json.dumps(
            {"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "w0", "model_max_length": 128}))
        paths[name] = str(folder)
    return paths


def token_ids(folder):
    tokenizer = json.loads(open(os.path.join(folder, "tokenizer.json")).read())
    ids = dict(tokenizer["model"]["vocab"])
    for entry in tokenizer.get("added_tokens", []):
        ids[entry["content"]] = entry["id"]
    return ids


@pytest.mark.parametrize("source", ["base", "union", "ft0"])
def test_vocabularies_that_differ(tmp_path, vocab_models, source):
    """tokenizer_source: the output vocabulary, its tokenizer.json and every token's embedding
    and head row equal mergekit's (matched by token text: mergekit's union orders the new
    tokens as a hash map iterates, Amalgam by model and id)."""
    tokenizer_source = "{ft0}" if source == "ft0" else source
    text = textwrap.dedent(f"""
        merge_method: ties
        base_model: {{base}}
        models:
          - model: {{ft0}}
            parameters: {{weight: 0.5, density: 0.6}}
          - model: {{ft1}}
            parameters: {{weight: 0.3, density: 0.6}}
          - model: {{ft2}}
            parameters: {{weight: 0.4, density: 0.6}}
        tokenizer_source: {tokenizer_source}
        dtype: float32
        """)
    mine, theirs = run_both(tmp_path, vocab_models, text)
    ours_ids, their_ids = token_ids(tmp_path / "amalgam_out"), token_ids(tmp_path / "mergekit_out")
    assert sorted(ours_ids) == sorted(their_ids)
    expected = {"base": VOCAB, "union": VOCAB + 4, "ft0": VOCAB + 3}[source]
    assert len(ours_ids) == expected
    config = json.loads((tmp_path / "amalgam_out" / "config.json").read_text())
    assert config["vocab_size"] == expected
    for name in theirs:
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            assert mine[name].shape == theirs[name].shape == (expected, HIDDEN)
            for token, row in ours_ids.items():
                assert np.array_equal(mine[name][row], theirs[name][their_ids[token]]), (name, token)
        else:
            assert np.array_equal(mine[name], theirs[name]), name
    # The written tokenizer encodes the added tokens to the ids whose rows were merged.
    from tokenizers import Tokenizer

    ours = Tokenizer.from_file(str(tmp_path / "amalgam_out" / "tokenizer.json"))
    for token in {t for extra in EXTRA_TOKENS.values() for t in extra} & set(ours_ids):
        assert ours.encode(f"w3 {token} w5").ids == [3, ours_ids[token], 5]
    # A GGUF of the merge carries the output vocabulary in its tokenizer keys.
    import gguf

    done = subprocess.run([AMALGAM, "convert", str(tmp_path / "amalgam_out") + "/", str(tmp_path / "merged.gguf")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    field = gguf.GGUFReader(str(tmp_path / "merged.gguf")).fields["tokenizer.ggml.tokens"]
    tokens = [bytes(field.parts[i]).decode() for i in field.data]
    assert len(tokens) == expected
    for token, row in ours_ids.items():
        if token.startswith("<"):
            assert tokens[row] == token


def test_mixed_format_inputs(tmp_path, models):
    """The same configuration with the fine-tunes as GGUF (f32) and npz: the same model as
    mergekit's from the safetensors folders, bit for bit."""
    text = textwrap.dedent("""
        merge_method: ties
        base_model: {base}
        models:
          - model: {ft0}
            parameters: {weight: 0.5, density: 0.5}
          - model: {ft1}
            parameters: {weight: 0.5, density: [0.2, 0.9]}
        dtype: float32
        """)
    _, theirs = run_both(tmp_path, models, text)
    converted = dict(models)
    for name, target in [("ft0", tmp_path / "ft0.gguf"), ("ft1", tmp_path / "ft1.npz")]:
        done = subprocess.run([AMALGAM, "convert", models[name], str(target)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        converted[name] = str(target)
    config = tmp_path / "mixed.yml"
    body = text
    for name, path in converted.items():
        body = body.replace("{" + name + "}", path)
    config.write_text(body)
    out = tmp_path / "mixed_out"
    done = subprocess.run([AMALGAM, "run", str(config), "--output", str(out) + "/"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    mine = load_file(str(out / "model.safetensors"))
    assert sorted(mine) == sorted(theirs)
    for name in theirs:
        assert np.array_equal(mine[name], theirs[name]), name


def test_stacked_layers_in_gguf_and_json_configuration(tmp_path, models):
    """A passthrough written straight to GGUF through the configuration's own `outputs` (an
    Amalgam key mixed into mergekit's YAML): llama.block_count is the stacked layer count and
    the blocks are renumbered. The same configuration as JSON gives the same file."""
    import gguf

    body = {
        "slices": [{"sources": [{"model": models["ft0"], "layer_range": [0, 3]}]},
                   {"sources": [{"model": models["ft1"], "layer_range": [1, 4]}]}],
        "merge_method": "passthrough",
        "dtype": "float32",
    }
    yaml_text = textwrap.dedent(f"""
        slices:
          - sources:
              - model: {models['ft0']}
                layer_range: [0, 3]
          - sources:
              - model: {models['ft1']}
                layer_range: [1, 4]
        merge_method: passthrough
        dtype: float32
        outputs:
          - path: stacked.gguf
        """)
    (tmp_path / "stack.yml").write_text(yaml_text)
    (tmp_path / "stack.json").write_text(json.dumps(body | {"outputs": [{"path": "stacked-json.gguf"}]}))
    for name in ["stack.yml", "stack.json"]:
        done = subprocess.run([AMALGAM, "run", str(tmp_path / name)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    reader = gguf.GGUFReader(str(tmp_path / "stacked.gguf"))
    assert int(reader.fields["llama.block_count"].parts[-1][0]) == 6
    blocks = {int(t.name.split(".")[1]) for t in reader.tensors if t.name.startswith("blk.")}
    assert blocks == set(range(6))
    # Block 3 is ft1's layer 1, renumbered (attn_norm is not permuted by the GGUF writer).
    ft1 = load_file(os.path.join(models["ft1"], "model.safetensors"))
    norm = next(t for t in reader.tensors if t.name == "blk.3.attn_norm.weight")
    assert np.array_equal(np.asarray(norm.data), ft1["model.layers.1.input_layernorm.weight"])
    assert (tmp_path / "stacked.gguf").read_bytes() == (tmp_path / "stacked-json.gguf").read_bytes()


def test_out_shard_size(tmp_path, models):
    """mergekit's shard size (its --out-shard-size syntax) as a configuration key: the output is
    split into shards of at most that many bytes of tensor data, with the index file."""
    config = tmp_path / "sharded.yml"
    config.write_text(textwrap.dedent(f"""
        merge_method: linear
        models:
          - model: {models['ft0']}
            parameters: {{weight: 0.5}}
          - model: {models['ft1']}
            parameters: {{weight: 0.5}}
        out_shard_size: 60K
        """))
    out = tmp_path / "sharded"
    done = subprocess.run([AMALGAM, "run", str(config), "--output", str(out) + "/"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shards = sorted(p for p in os.listdir(out) if p.endswith(".safetensors"))
    assert len(shards) > 1 and "model.safetensors.index.json" in os.listdir(out)
    for shard in shards:
        data = sum(v.nbytes for v in load_file(str(out / shard)).values())
        assert data <= 60_000 or len(load_file(str(out / shard))) == 1


@pytest.mark.parametrize("case", ["passthrough", "ties_slices", "ties"])
def test_dry_run_writes_nothing(tmp_path, models, case):
    """--dry-run checks a mergekit configuration (inputs, parameters, outputs) and writes nothing."""
    text = textwrap.dedent(CASES[case][1])
    for name, path in models.items():
        text = text.replace("{" + name + "}", path)
    config = tmp_path / "config.yml"
    config.write_text(text)
    out = tmp_path / "out"
    done = subprocess.run([AMALGAM, "run", str(config), "--output", str(out) + "/", "--dry-run"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not out.exists()
