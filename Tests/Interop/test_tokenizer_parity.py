"""The tokenizer.json a GGUF → Hugging Face conversion writes splits text as the original tokenizer
does, for every tokenizer model GGUF carries that Amalgam exports (issue 13, item 2):

- against the reference ids of llama.cpp's own tokenizer tests (models/ggml-vocab-NAME.gguf with
  .inp texts and .out ids, which llama.cpp's scripts computed with the original Hugging Face
  tokenizers): byte-level BPE (GPT-2, Llama 3, Qwen 2, MPT), SentencePiece BPE (Llama 2, Phi-3;
  merges rebuilt from the scores as transformers' GGUF loader does) and WordPiece (BGE);
- against llama.cpp's tokenizer on gemma-3-270m (SentencePiece BPE without a space prefix,
  user-defined whitespace pieces) and on the same vocabularies, over one multilingual text;
- and back: the Hugging Face folder converted to GGUF again tokenises in llama.cpp as the original.
"""

import json
import subprocess

import gguf
import pytest
from helpers import amalgam, gemma3, llama_cpp, llama_cpp_source
from tokenizers import Tokenizer

SEPARATOR = "\n__ggml_vocab_test__\n"
REFERENCE = ["llama-spm", "phi-3", "gpt-2", "llama-bpe", "qwen2", "mpt", "bert-bge"]


def vocabulary(name):
    return llama_cpp_source("models", f"ggml-vocab-{name}.gguf")


def cases(name):
    texts = open(vocabulary(name) + ".inp", encoding="utf-8").read().split(SEPARATOR)
    ids = open(vocabulary(name) + ".out", encoding="utf-8").read().split("\n")
    return [(text, [int(i) for i in line.split()]) for text, line in zip(texts, ids)]


def vocabulary_only(source, target):
    """A copy of a GGUF's architecture and tokenizer keys without its tensors."""
    reader = gguf.GGUFReader(source)
    architecture = bytes(reader.fields["general.architecture"].parts[-1]).decode()
    writer = gguf.GGUFWriter(str(target), architecture)
    for key, field in reader.fields.items():
        if not key.startswith(("tokenizer.", architecture + ".")):
            continue
        kind = field.types[0]
        if kind == gguf.GGUFValueType.ARRAY:
            sub = field.types[1]
            values = [bytes(field.parts[i]).decode() if sub == gguf.GGUFValueType.STRING else field.parts[i].tolist()[0]
                      for i in field.data]
            writer.add_key_value(key, values, kind, sub_type=sub)
        elif kind == gguf.GGUFValueType.STRING:
            writer.add_key_value(key, bytes(field.parts[-1]).decode(), kind)
        else:
            writer.add_key_value(key, field.parts[-1].tolist()[0], kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.close()
    return str(target)


def exported(model, folder):
    amalgam("convert", model, str(folder) + "/")
    return Tokenizer.from_file(str(folder / "tokenizer.json"))


def llama_ids(model, text_file):
    """llama.cpp's ids for a whole file's text, no BOS, special pieces not parsed."""
    result = subprocess.run([llama_cpp("llama-tokenize"), "-m", model, "-f", str(text_file), "--ids", "--log-disable",
                             "--no-bos", "--no-parse-special", "--no-escape"], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def multilingual(tmp_path_factory):
    """One text of many scripts, spacings and symbols: llama.cpp's tokenizer test inputs joined."""
    path = tmp_path_factory.mktemp("text") / "multilingual.txt"
    path.write_text(SEPARATOR.join(open(vocabulary("llama-spm") + ".inp", encoding="utf-8").read().split(SEPARATOR)),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def gemma_vocabulary(tmp_path_factory):
    return vocabulary_only(gemma3(), tmp_path_factory.mktemp("gemma") / "gemma-3-270m-vocab.gguf")


@pytest.mark.parametrize("name", REFERENCE)
def test_tokenizer_json_gives_the_reference_ids(tmp_path, name):
    tokenizer = exported(vocabulary(name), tmp_path / "hf")
    wrong = [(text, tokenizer.encode(text, add_special_tokens=False).ids, ids) for text, ids in cases(name)
             if tokenizer.encode(text, add_special_tokens=False).ids != ids]
    assert len(cases(name)) >= 40 and wrong == []


def test_sentencepiece_export_is_a_bpe_with_merges_ordered_by_score(tmp_path):
    tokenizer = json.loads((amalgam("convert", vocabulary("llama-spm"), str(tmp_path / "hf") + "/") and
                            (tmp_path / "hf" / "tokenizer.json").read_text()))
    model = tokenizer["model"]
    assert model["type"] == "BPE" and model["byte_fallback"] is True and model["unk_token"] == "<unk>"
    reader = gguf.GGUFReader(vocabulary("llama-spm"))
    tokens = [bytes(reader.fields["tokenizer.ggml.tokens"].parts[i]).decode() for i in reader.fields["tokenizer.ggml.tokens"].data]
    scores = [float(reader.fields["tokenizer.ggml.scores"].parts[i][0]) for i in reader.fields["tokenizer.ggml.scores"].data]
    score = dict(zip(tokens, scores))
    joined = [score[left + right] for left, right in (merge.split(" ") for merge in model["merges"])]
    assert len(joined) > 60_000 and joined == sorted(joined, reverse=True)
    assert tokenizer["normalizer"]["normalizers"][0] == {"type": "Prepend", "prepend": "\u2581"}


@pytest.mark.parametrize("name", ["gemma-3-270m", "llama-spm", "phi-3", "bert-bge", "gpt-2", "qwen2", "llama-bpe"])
def test_tokenizer_json_splits_as_llama_cpp(tmp_path, multilingual, gemma_vocabulary, name):
    model = gemma_vocabulary if name == "gemma-3-270m" else vocabulary(name)
    tokenizer = exported(model, tmp_path / "hf")
    text = multilingual.read_text(encoding="utf-8")
    reference = llama_ids(model, multilingual)
    assert len(reference) > 300 and tokenizer.encode(text, add_special_tokens=False).ids == reference


def test_gemma_tokenizer_json_takes_whole_words_and_no_space_prefix(tmp_path, gemma_vocabulary):
    tokenizer = exported(gemma_vocabulary, tmp_path / "hf")
    encoding = tokenizer.encode("The capital of France is Paris.  Zürich", add_special_tokens=False)
    # Whole words, the two-space piece (a user-defined token matched on the raw text), no leading ▁.
    assert encoding.tokens == ["The", "▁capital", "▁of", "▁France", "▁is", "▁Paris", ".", "  ", "Z", "ürich"]
    assert tokenizer.decode(encoding.ids) == "The capital of France is Paris.  Zürich"


@pytest.mark.parametrize("name", ["gemma-3-270m", "llama-spm", "bert-bge", "qwen2"])
def test_hugging_face_folder_back_to_gguf_tokenises_as_the_original(tmp_path, multilingual, gemma_vocabulary, name):
    model = gemma_vocabulary if name == "gemma-3-270m" else vocabulary(name)
    amalgam("convert", model, str(tmp_path / "hf") + "/")
    amalgam("convert", str(tmp_path / "hf"), str(tmp_path / "back.gguf"))
    back = gguf.GGUFReader(str(tmp_path / "back.gguf")).fields
    original = gguf.GGUFReader(model).fields
    kind = lambda fields: bytes(fields["tokenizer.ggml.model"].parts[-1]).decode()
    assert kind(back) == kind(original)
    assert llama_ids(str(tmp_path / "back.gguf"), multilingual) == llama_ids(model, multilingual)
