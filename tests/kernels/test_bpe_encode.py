"""The numba byte-level BPE encoder gives the ids `tokenizers` gives, on real tokenizer.json files and real text."""

import collections
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from tokbench.bpe_encoder import BPEEncoder
from tokbench.errors import UsageError
from tokbench.train.bpe import train_bpe
from tokbench.train.presets import PATTERNS

REPO = Path(__file__).resolve().parents[2]
FLORES = Path("/work/shared/corpora/flores200")
NPM = [REPO / ".cache/npm", Path("/work/main/.cache/npm")]

TRICKY = [
    "",
    "Hello world",
    "  leading and trailing   ",
    "tabs\tand\r\nwindows\r\nnewlines\n\n\n",
    "numbers 1234567 3.14159 1,000,000 and 2024-01-02",
    "don't won't I'M we'LL they'Ve",
    "emoji 👍🏽 👨‍👩‍👧 flags 🇹🇷",
    "中文字符和日本語のテキスト、한국어",
    "combining e\u0301 vs \u00e9 and A\u030a",
    "Türkçe: İstanbul'da ığüşöç",
    "<|endoftext|> inside text <|endoftext|>",
    "<|begin_of_text|>hi<|eot_id|>",
    "x" * 3000,
    "a" + " " * 200 + "b",
    "\u00a0non-breaking\u2009thin\u3000ideographic spaces",
    "mixed123abc___---!!!???",
]


def _npm(name):
    for root in NPM:
        f = root / f"tokenizer-{name}/package/models/tokenizer.json"
        if f.exists():
            return f
    pytest.skip(f"no {name} tokenizer.json on this machine")


def _corpus_lines():
    lines = list(TRICKY)
    for f in sorted(FLORES.glob("*.dev")):
        lines += f.read_text().split("\n")[:400]
    root = Path(sysconfig.get_paths()["stdlib"]) / "json"
    for f in sorted(root.glob("*.py")):
        lines += f.read_text().split("\n")
    # whole documents too: multi-line texts with their newlines
    lines += ["\n".join(lines[i : i + 25]) for i in range(0, len(lines), 25)]
    return lines


def _split(ids, offsets):
    return [ids[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]


def _hf_ids(tok, texts):
    return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]


@pytest.fixture(scope="module")
def lines():
    return _corpus_lines()


@pytest.mark.parametrize("name", ["gpt2", "llama3", "qwen3"])
def test_ids_equal_hf(name, lines):
    path = _npm(name)
    enc = BPEEncoder.from_tokenizer_json(path)
    ids, offsets = enc.encode_batch(lines)
    assert ids.dtype == np.int32 and offsets.dtype == np.int64 and len(offsets) == len(lines) + 1
    assert _split(ids, offsets) == _hf_ids(Tokenizer.from_file(str(path)), lines)
    # a second batch is served from the word cache and must not change anything
    ids2, offsets2 = enc.encode_batch(lines[::-1])
    assert _split(ids2, offsets2) == _split(ids, offsets)[::-1]


def test_llama3_ignore_merges_matters():
    """Llama-3 sets ignore_merges: whole words in its vocab are emitted even where the merges would build others."""
    path = _npm("llama3")
    enc = BPEEncoder.from_tokenizer_json(path)
    assert enc.ignore_merges
    plain = BPEEncoder.from_tokenizer_json(path)
    plain.ignore_merges = False
    # words found by scanning Llama-3's vocab for pre-tokens whose merges give something else
    words = [" việc", " Việt", "mektedir", "lardan", " değiş", " характ", " використ", " každ"]
    hf = _hf_ids(Tokenizer.from_file(str(path)), words)
    assert all(len(x) == 1 for x in hf)
    assert _split(*enc.encode_batch(words)) == hf
    assert all(len(x) > 1 for x in _split(*plain.encode_batch(words)))


def test_special_tokens_as_text(lines):
    path = _npm("gpt2")
    hf = Tokenizer.from_file(str(path))
    hf.encode_special_tokens = True
    enc = BPEEncoder.from_tokenizer_json(path, encode_special_tokens=True)
    texts = [t for t in lines if "<|" in t] + ["a<|endoftext|>b"]
    got = _split(*enc.encode_batch(texts))
    assert got == _hf_ids(hf, texts)
    assert 50256 not in got[-1]
    # by default an added token in the text is matched, as HF does
    assert 50256 in BPEEncoder.from_tokenizer_json(path).encode("a<|endoftext|>b")


def _word_counts(files, pattern):
    pat = regex.compile(pattern)
    counter = collections.Counter()
    for f in files:
        for line in f.read_text().splitlines(keepends=True):
            counter.update(w.encode() for w in pat.findall(line))
    words = list(counter)
    return words, np.array([counter[w] for w in words], np.int64)


@pytest.mark.parametrize("pretokenizer,normalizer", [(p, "none") for p in sorted(PATTERNS)] + [("gpt2", "nfkc")])
def test_trained_tokenizer_ids_equal_hf(pretokenizer, normalizer, lines, tmp_path):
    files = sorted(FLORES.glob("*.devtest")) or sorted((Path(sysconfig.get_paths()["stdlib"]) / "json").glob("*.py"))
    words, counts = _word_counts(files, PATTERNS[pretokenizer])
    tok = train_bpe(words, counts, 3000, 0, ["<|endoftext|>", "<pad>"], pretokenizer, normalizer)
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    enc = BPEEncoder.from_tokenizer_json(path)
    assert _split(*enc.encode_batch(lines)) == _hf_ids(Tokenizer.from_file(str(path)), lines)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=8))
def test_random_text_equals_hf(texts):
    path = _npm("gpt2")
    enc, hf = _encoders(str(path))
    assert _split(*enc.encode_batch(texts)) == _hf_ids(hf, texts)


_CACHE = {}


def _encoders(path):
    if path not in _CACHE:
        _CACHE[path] = (BPEEncoder.from_tokenizer_json(path), Tokenizer.from_file(path))
    return _CACHE[path]


def test_not_byte_level_bpe_is_a_usage_error(tmp_path):
    from tokenizers import models

    tok = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    with pytest.raises(UsageError, match="BPE"):
        BPEEncoder.from_tokenizer_json(tok)
    no_bytes = Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")]))
    with pytest.raises(UsageError):
        BPEEncoder.from_tokenizer_json(no_bytes)
