"""tokbench's BPE engine against the reference: HF tokenizers' BpeTrainer on the same files, merge for merge."""

import collections
import json
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import regex
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from tokbench.errors import UsageError
from tokbench.tokenizer.presets import pattern
from tokbench.tokenizer.presets import hf_normalizer, hf_pretokenizer
from tokbench.train.bpe import learn_merges, train_bpe, train_bpe_lines

REPO = Path(__file__).resolve().parents[2]
FLORES = Path("/work/shared/corpora/flores200")
SPECIALS = ["<|endoftext|>", "<pad>", "<s>"]


def _stdlib_sample(tmp_dir: Path, name: str, package: str, limit: int) -> Path:
    """Python stdlib sources concatenated up to `limit` bytes (real code, on every machine)."""
    out = tmp_dir / name
    if not out.exists():
        root = Path(sysconfig.get_paths()["stdlib"]) / package
        chunks, size = [], 0
        for f in sorted(root.rglob("*.py")):
            data = f.read_bytes()
            chunks.append(data)
            size += len(data)
            if size >= limit:
                break
        out.write_bytes(b"".join(chunks))
    return out


def _first(*candidates: Path) -> list[Path]:
    for c in candidates:
        files = sorted(c.glob("*")) if c.is_dir() else ([c] if c.exists() else [])
        files = [f for f in files if f.is_file() and f.suffix in ("", ".txt", ".dev", ".devtest")]
        if files:
            return files
    return []


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bpe-corpora")
    found = {
        "english": _first(REPO / "corpora/en-tech") or sorted(FLORES.glob("eng_Latn.*")),
        "turkish": _first(REPO / "corpora/multi/tr") or sorted(FLORES.glob("tur_Latn.*")),
        "code": _first(REPO / "corpora/code-py") or [_stdlib_sample(tmp, "stdlib-email.py", "email", 600_000)],
    }
    return {k: v for k, v in found.items() if v}


def word_counts(files, pattern):
    """Reference counting: the pattern per line, each line keeping its "\\n", as HF's train_from_files does."""
    pat = regex.compile(pattern)
    counter = collections.Counter()
    for f in files:
        lines = Path(f).read_bytes().split(b"\n")
        for i, line in enumerate(lines):
            text = (line + b"\n" if i < len(lines) - 1 else line).decode()
            counter.update(w.encode() for w in pat.findall(text))
    words = list(counter)
    return words, np.array([counter[w] for w in words], np.int64)


def hf_train(files, vocab_size, min_frequency, specials, pretokenizer, normalizer="none"):
    tok = Tokenizer(models.BPE())
    tok.normalizer = hf_normalizer(normalizer)
    tok.pre_tokenizer = hf_pretokenizer(pretokenizer)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train([str(f) for f in files], trainer)
    return tok


CASES = [
    # corpus, vocab, min_frequency, specials, pretokenizer
    ("english", 1000, 0, [], "gpt2"),
    ("english", 8000, 0, SPECIALS, "gpt2"),
    ("english", 32000, 0, [], "gpt2"),
    ("code", 1000, 0, [], "gpt2"),
    ("code", 8000, 2, [], "gpt2"),
    ("code", 32000, 0, SPECIALS, "gpt2"),
    ("turkish", 8000, 3, SPECIALS, "gpt2"),
    ("turkish", 32000, 0, [], "gpt2"),
    ("code", 8000, 0, ["<s>"], "cl100k"),
    ("turkish", 8000, 2, [], "llama3"),
    ("english", 4000, 0, [], "whitespace"),
]


@pytest.mark.parametrize("corpus,vocab_size,min_frequency,specials,pretokenizer", CASES)
def test_merges_identical_to_hf(corpora, corpus, vocab_size, min_frequency, specials, pretokenizer):
    if corpus not in corpora:
        pytest.skip(f"no {corpus} corpus on this machine")
    files = corpora[corpus]
    words, counts = word_counts(files, pattern(pretokenizer))
    ours = json.loads(train_bpe(words, counts, vocab_size, min_frequency, specials, pretokenizer).to_str())
    ref = json.loads(hf_train(files, vocab_size, min_frequency, specials, pretokenizer).to_str())
    assert len(ref["model"]["merges"]) > 200
    assert ours["model"]["vocab"] == ref["model"]["vocab"]
    assert ours["model"]["merges"] == ref["model"]["merges"]
    # the whole file too: added tokens, pre-tokenizer, decoder
    assert ours == ref


def _lines(files):
    """Lines as HF's train_from_files reads them: cut after b"\\n" only, each keeping it."""
    for f in files:
        parts = Path(f).read_bytes().split(b"\n")
        for i, part in enumerate(parts):
            line = part + b"\n" if i < len(parts) - 1 else part
            if line:
                yield line.decode()


@pytest.mark.parametrize(
    "corpus,vocab_size,pretokenizer,normalizer",
    [("english", 8000, "gpt2", "none"), ("turkish", 8000, "llama3", "nfkc"), ("code", 4000, "cl100k", "nfc")],
)
def test_numba_counts_pipeline_identical_to_hf(corpora, corpus, vocab_size, pretokenizer, normalizer):
    """The `train` path: numba word counts (pre-tokenizer module) + engine, against HF reading the same files."""
    files = corpora[corpus]
    ours = train_bpe_lines(_lines(files), vocab_size, 0, ["<|endoftext|>"], pretokenizer, normalizer)
    ref = hf_train(files, vocab_size, 0, ["<|endoftext|>"], pretokenizer, normalizer)
    assert json.loads(ours.to_str()) == json.loads(ref.to_str())


def test_min_frequency_stops_early(corpora):
    words, counts = word_counts(corpora["english"], pattern("gpt2"))
    tokens_all, merges_all = learn_merges(words, counts, 50_000, 0)
    tokens_min, merges_min = learn_merges(words, counts, 50_000, 20)
    assert 0 < len(merges_min) < len(merges_all)
    assert merges_min == merges_all[: len(merges_min)]


def test_save_is_deterministic(corpora, tmp_path):
    words, counts = word_counts(corpora["english"], pattern("gpt2"))
    paths = []
    for i, order in enumerate([slice(None), slice(None, None, -1)]):  # word order must not matter either
        tok = train_bpe(words[order], counts[order], 2000, special_tokens=SPECIALS)
        paths.append(tmp_path / f"t{i}.json")
        tok.save(str(paths[-1]))
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_special_token_equal_to_a_merge_reuses_its_id():
    # "<s>" is also the concatenation of byte tokens "<s" + ">": HF reuses the special token's id for that merge
    words = [b"<s>", b"<s"]
    counts = np.array([10, 5], np.int64)
    tokens, merges = learn_merges(words, counts, 300, 0, ["<s>"])
    assert tokens[0] == "<s>"
    assert ("<s", ">") in merges
    assert tokens.count("<s>") == 1
    ref = hf_train_words(words, counts, 300, ["<s>"])
    assert merges == [tuple(m) for m in ref["model"]["merges"]]


def hf_train_words(words, counts, vocab_size, specials):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = []
    for w, c in zip(words, counts.tolist()):
        lines += [w.decode()] * c
    tok.train_from_iterator(lines, trainer)
    return json.loads(tok.to_str())


def test_vocab_smaller_than_alphabet_is_a_usage_error():
    with pytest.raises(UsageError, match="alphabet"):
        train_bpe([b"hello"], np.array([3], np.int64), 255)
    with pytest.raises(UsageError, match="alphabet"):
        train_bpe([b"hello"], np.array([3], np.int64), 257, special_tokens=["<a>", "<b>"])


def test_unknown_pretokenizer_is_a_usage_error():
    with pytest.raises(UsageError, match="pretokenizer"):
        train_bpe([b"hello"], np.array([3], np.int64), 300, pretokenizer="nope")
