"""superbpe, supertoken and char-bpe against independent references: `regex` for the stage-2 split, `tokenizers` for
the saved files, plain BPE for stage 1, a brute-force Python BPE for the merge loop, and plain byte/word counting for
the limits."""

from __future__ import annotations

import collections
import json
import random
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from tokbench.corpus import Corpus
from tokbench.errors import UsageError
from tokbench.kernels import bpe_limited as KL
from tokbench.tokenizer.bytelevel import to_bytes
from tokbench.tokenizer.fast_bpe import BPEEncoder
from tokbench.train import supertokens as S
from tokbench.train.bpe import train_bpe
from tokbench.train.counts import count_words

REPO = Path(__file__).resolve().parents[2]
FLORES = Path("/work/shared/corpora/flores200")
BUNDLED = ["en-tech", "en-dict", "code-py", "legal"]
STRESS = [
    "Hello, world. Hello,world!! e.g. U.S. cent (see the docs) -- x1y2 2024-11-28 3.14159",
    "don't won't dogs' toys ’tis l’homme I'LL  two  spaces\ttab\u00a0nbsp",
    "İstanbul'da ılık bir gün; IĞDIR ığdır",
    "中文分词测试，日本語のテキスト。한국어 नमस्ते दुनिया",
    "emoji 🤗👨‍👩‍👧‍👦 flags 🇹🇷 done.\r\n\n\n    indented",
    "def f(x):\n\treturn  x ** 2  # comment\n",
    "a" * 300 + " " + "b " * 50,
    "",
    " ",
    "\n",
]


def _stdlib_text(limit: int) -> str:
    root = Path(sysconfig.get_paths()["stdlib"]) / "email"
    chunks, size = [], 0
    for f in sorted(root.rglob("*.py")):
        chunks.append(f.read_text(encoding="utf-8"))
        size += len(chunks[-1])
        if size >= limit:
            break
    return "".join(chunks)


def _cap(docs, limit):
    out, size = [], 0
    for d in docs:
        out.append(d[: limit - size])
        size += len(out[-1])
        if size >= limit:
            break
    return out


@pytest.fixture(scope="module")
def corpora() -> dict[str, list[str]]:
    """Every bundled corpus (up to 60 KB each); FLORES and Python sources where the bundle is not there."""
    found = {}
    for name in BUNDLED + sorted(f"multi/{p.name}" for p in (REPO / "corpora/multi").glob("*") if p.is_dir()):
        if (REPO / "corpora" / name).is_dir():
            found[name] = _cap(Corpus([str(REPO / "corpora" / name)]).documents(), 60_000)
    if not found:
        for name in ("eng_Latn.dev", "tur_Latn.dev"):
            if (FLORES / name).exists():
                found[name] = _cap([(FLORES / name).read_text(encoding="utf-8")], 60_000)
        found["stdlib-email"] = [_stdlib_text(60_000)]
    return found


@pytest.fixture(scope="module")
def english() -> list[str]:
    """Training lines: bundled English if present, else FLORES English dev (~130 KB)."""
    for spec in (REPO / "corpora/en-tech", FLORES / "eng_Latn.dev"):
        if spec.exists():
            return list(Corpus([str(spec)]).lines())[:4000]
    return [line + "\n" for line in _stdlib_text(150_000).split("\n")]


@pytest.fixture(scope="module")
def superbpe(english, tmp_path_factory):
    trained = S.train_superbpe(iter(english), 3000, transition=0.5, max_words=3, pretokenizer="llama3")
    path = tmp_path_factory.mktemp("superbpe") / "tokenizer.json"
    trained.hf.save(str(path))
    return trained, path


def _token_bytes(path) -> list[bytes]:
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    return [to_bytes(t) for t in spec["model"]["vocab"]]


def _same_ids_and_round_trip(path, texts):
    """ids from `tokenizers` equal tokbench's own encoder's, and decoding gives the text back."""
    hf = Tokenizer.from_file(str(path))
    ours = BPEEncoder.from_tokenizer_json(path)
    for text in texts:
        ids = hf.encode(text, add_special_tokens=False).ids
        assert ids == ours.encode(text), text[:80]
        assert hf.decode(ids, skip_special_tokens=False) == text


# --- the stage-2 split ----------------------------------------------------------------------------------------------


def _scan(text: str, digits3: bool) -> list[str]:
    from tokbench.kernels.pretokenize import codepoints
    from tokbench.tokenizer import presets

    starts, ends = KL.split_super(codepoints(text), np.array([0, len(text)], np.int64), presets.class_table(), digits3)
    return [text[a:b] for a, b in zip(starts.tolist(), ends.tolist())]


PATTERNS = [(True, KL.SUPER_PATTERN_DIGITS3), (False, KL.SUPER_PATTERN_DIGITS)]


@pytest.mark.parametrize("digits3, pattern", PATTERNS)
def test_split_super_equals_regex_on_corpora(corpora, digits3, pattern):
    pattern = regex.compile(pattern)
    for name, docs in corpora.items():
        for doc in docs:
            for line in doc.splitlines(keepends=True)[:1000]:
                assert _scan(line, digits3) == pattern.findall(line), (name, line)
    for text in STRESS:
        assert _scan(text, digits3) == pattern.findall(text)


def test_split_super_pieces():
    assert _scan("Hello, world. Then  x1 2024", True) == ["Hello, world. Then", " ", " x", "1", " ", "202", "4"]
    assert _scan("Hello, world. Then  x1 2024", False) == ["Hello, world. Then", " ", " x", "1", " 2024"]
    assert _scan("a::b (c) -- d\n", True) == ["a", "::", "b (c)", " --", " d\n"]
    assert _scan("end.\r\n\n  x \n", True) == ["end.\r\n\n", " ", " x", " \n"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab Z,.;'’-(\n\r\t09ı中\u0301\u00a0!")), max_size=40), st.booleans())
def test_split_super_equals_regex_random(text, digits3):
    assert _scan(text, digits3) == regex.findall(dict(PATTERNS)[digits3], text)


# --- superbpe ---------------------------------------------------------------------------------------------------------


def test_stage1_equals_plain_bpe(english, superbpe):
    trained, path = superbpe
    counts = count_words(iter(english), "llama3")
    plain = json.loads(train_bpe(counts.words, counts.counts, 3000, pretokenizer="llama3").to_str())["model"]["merges"]
    merges = json.loads(Path(path).read_text(encoding="utf-8"))["model"]["merges"]
    n1 = trained.info["stage1_merges"]
    assert n1 == 1500 - 256 and trained.info["stage2_merges"] > 0
    assert merges[:n1] == plain[:n1]
    assert merges[n1:] != plain[n1 : len(merges)]


def test_superbpe_tokenizers_ids_and_round_trip_on_every_corpus(superbpe, corpora):
    _, path = superbpe
    for docs in corpora.values():
        _same_ids_and_round_trip(path, docs)
    _same_ids_and_round_trip(path, STRESS)


def test_encode_phrases_equals_tokenizers_on_whole_pieces(english):
    """Stage 2 starts from each piece encoded with stage 1's merges: `tokenizers` with no split gives the same ids."""
    from tokenizers import decoders, models, pre_tokenizers

    from tokbench.train.bpe import learn_merges

    counts = count_words(iter(english), "llama3")
    tokens, merges = learn_merges(counts.words, counts.counts, 1200)
    hf = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    hf.decoder = decoders.ByteLevel()
    pieces = [p for line in english[:300] + STRESS for p in regex.findall(KL.SUPER_PATTERN_DIGITS3, line)]
    pieces += ["    x  y", "a  b   c", " \t x", "end.\n\n"]
    data = [p.encode() for p in pieces if p]
    offs = np.zeros(len(data) + 1, np.int64)
    np.cumsum([len(d) for d in data], out=offs[1:])
    ids, at = S.encode_phrases(tokens, merges, np.frombuffer(b"".join(data), np.uint8), offs)
    for i, d in enumerate(data):
        assert ids[at[i] : at[i + 1]].tolist() == hf.encode(d.decode()).ids, d


def test_superbpe_after_gpt2_keeps_number_runs(english, corpora, tmp_path):
    trained = S.train_superbpe(iter(english), 1500, transition=0.5, pretokenizer="gpt2")
    path = tmp_path / "tokenizer.json"
    trained.hf.save(str(path))
    assert json.loads(path.read_text())["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] == \
        KL.SUPER_PATTERN_DIGITS
    _same_ids_and_round_trip(path, [d for docs in corpora.values() for d in docs[:1]] + STRESS)
    counts = count_words(iter(english), "gpt2")
    plain = json.loads(train_bpe(counts.words, counts.counts, 1500).to_str())["model"]["merges"]
    n1 = trained.info["stage1_merges"]
    assert json.loads(path.read_text())["model"]["merges"][:n1] == plain[:n1] and n1 == 750 - 256


def _words(data: bytes) -> int:
    """Independent count: whitespace-separated runs holding a letter, digit or non-ASCII byte."""
    return sum(1 for run in data.split() if regex.search(rb"[A-Za-z0-9\x80-\xff]", run))


def test_superbpe_max_words_and_multiword_tokens(english, superbpe):
    trained, path = superbpe
    sizes = collections.Counter(_words(b) for b in _token_bytes(path))
    assert max(sizes) == 3 and sizes[2] > 50  # phrases were learned, none beyond the cap
    tight = S.train_superbpe(iter(english), 2500, transition=0.5, max_words=1)
    assert tight.info["refused_merges"] > 0
    spec = json.loads(tight.hf.to_str())
    assert max(_words(to_bytes(t)) for t in spec["model"]["vocab"]) == 1


def test_superbpe_deterministic_and_transition_checked(english, superbpe):
    trained, _ = superbpe
    again = S.train_superbpe(iter(english), 3000, transition=0.5, max_words=3, pretokenizer="llama3")
    assert again.hf.to_str() == trained.hf.to_str()
    with pytest.raises(UsageError, match="transition"):
        S.train_superbpe(iter(english), 3000, transition=4000)
    assert S.transition_size(0.6, 32000, 256) == 19200 and S.transition_size(800, 1000, 256) == 800
    assert S.transition_size(0.5, 300, 256) == 256
    with pytest.raises(UsageError, match="transition"):
        S.transition_size(100, 1000, 256)


# --- the merge loop against brute force -----------------------------------------------------------------------------


def _brute(words, counts, vocab, limit_kind, limit, forced=()):
    """Greedy BPE by recounting every pair each step: highest count, ties to the smallest (left, right)."""
    toks = [bytes([i]) for i in range(256)]
    seqs = [list(w) for w in words]

    def apply(a, b, new):
        for w in seqs:
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            w[:] = out

    for a, b, new in forced:
        toks.append(toks[a] + toks[b])
        apply(a, b, new)
    merges = []
    while len(toks) < vocab:
        pairs = collections.Counter()
        for w, f in zip(seqs, counts):
            for x, y in zip(w, w[1:]):
                pairs[(x, y)] += f
        best = None
        for (a, b), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
            joined = toks[a] + toks[b]
            too_many = (limit_kind == KL.LIMIT_WORDS and _words(joined) > limit) or (
                limit_kind == KL.LIMIT_CHARS and _chars(joined) > limit)
            if not too_many:
                best = (a, b)
                break
        if best is None:
            break
        a, b = best
        joined = toks[a] + toks[b]
        new = toks.index(joined) if joined in toks else len(toks)
        if new == len(toks):
            toks.append(joined)
        merges.append((a, b, new))
        apply(a, b, new)
    return merges


def _chars(data: bytes) -> int:
    """Characters, a leading run of continuation bytes counting as one."""
    lead = len(data) - len(data.lstrip(bytes(range(0x80, 0xC0))))
    return sum(1 for x in data if x & 0xC0 != 0x80) + (1 if lead else 0)


@pytest.mark.parametrize("seed", range(6))
def test_resume_kernel_equals_brute_force(seed):
    rng = random.Random(seed)
    alphabet = "ab c.dé"
    words = sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14))).encode() for _ in range(60)})
    counts = [rng.randint(1, 6) for _ in words]
    flat = np.frombuffer(b"".join(words), np.uint8).astype(np.int32)
    offs = np.zeros(len(words) + 1, np.int64)
    np.cumsum([len(w) for w in words], out=offs[1:])
    kind, limit = [(KL.LIMIT_NONE, 0), (KL.LIMIT_WORDS, 2), (KL.LIMIT_CHARS, 3)][seed % 3]
    reference = _brute(words, counts, 256 + 40, kind, limit)
    pool, tok_offs = np.arange(256, dtype=np.uint8), np.arange(257, dtype=np.int64)
    none = np.zeros(0, np.int32)
    got = KL.train_merges_resume(flat, offs, np.array(counts, np.int64), pool, tok_offs, none, none, none, 256 + 40, 0,
                                 kind, limit)
    assert list(zip(*(x.tolist() for x in got[:3]))) == reference
    # resuming after replaying the first 10 merges gives the rest
    forced = np.array([m for m in reference[:10] if m[2] >= 256], np.int32).reshape(-1, 3)
    toks = [bytes([i]) for i in range(256)] + [b""] * len(forced)
    for a, b, n in forced.tolist():
        toks[n] = toks[a] + toks[b]
    pool2 = np.frombuffer(b"".join(toks), np.uint8).copy()
    offs2 = np.zeros(len(toks) + 1, np.int64)
    np.cumsum([len(t) for t in toks], out=offs2[1:])
    rest = KL.train_merges_resume(flat, offs, np.array(counts, np.int64), pool2, offs2, forced[:, 0].copy(),
                                  forced[:, 1].copy(), forced[:, 2].copy(), 256 + 40, 0, kind, limit)
    assert list(zip(*(x.tolist() for x in rest[:3]))) == _brute(words, counts, 256 + 40, kind, limit,
                                                                forced.tolist())


# --- char-bpe and supertoken ------------------------------------------------------------------------------------------


def test_char_bpe_cap_padding_and_ids(english, corpora, tmp_path):
    trained = S.train_char_bpe(iter(english), 3000, max_token_chars=3, pad_vocab_pow2=True)
    path = tmp_path / "tokenizer.json"
    trained.hf.save(str(path))
    assert trained.hf.get_vocab_size() == 4096
    assert trained.info["padding_tokens"] == 4096 - trained.info["trained_vocab"] > 0
    lengths = [_chars(b) for b in _token_bytes(path) if b is not None]
    assert max(lengths) == 3
    pads = [t for t in json.loads(path.read_text())["added_tokens"] if t["content"].startswith("<|pad_")]
    assert len(pads) == trained.info["padding_tokens"] and all(t["special"] for t in pads)
    _same_ids_and_round_trip(path, [d for docs in corpora.values() for d in docs[:2]] + STRESS)
    assert S.train_char_bpe(iter(english), 3000, max_token_chars=3, pad_vocab_pow2=True).hf.to_str() == \
        trained.hf.to_str()


def test_chunker_pieces_follow_the_seeded_lengths():
    lines = ["abcdefghijklmnopqrstuvwxyz0123456789\n", "\n", "short\n", "x" * 50]
    cps = np.frombuffer("".join(lines).encode("utf-32-le"), np.int32)
    bounds = np.cumsum([0] + [len(x) for x in lines])
    chunker = S._Chunker(4, 9, seed=7)
    starts, ends = chunker(cps, bounds)
    # reference: the same stream of lengths, cut line by line, newlines alone
    lengths = iter(np.random.default_rng(7).integers(4, 10, len(cps), dtype=np.int64).tolist())
    expected = []
    for line in lines:
        body = line.rstrip("\n")
        i = 0
        while i < len(body):
            n = next(lengths)
            expected.append(body[i : i + n])
            i += n
        if line.endswith("\n"):
            expected.append("\n")
    text = "".join(lines)
    assert [text[a:b] for a, b in zip(starts.tolist(), ends.tolist())] == expected


def test_supertoken_crosses_words_and_matches_tokenizers(english, corpora, tmp_path):
    trained = S.train_supertoken(iter(english), 3000, chunk_min=4, chunk_max=23, seed=1)
    path = tmp_path / "tokenizer.json"
    trained.hf.save(str(path))
    vocab = _token_bytes(path)
    assert sum(1 for b in vocab if b and b" " in b.strip()) > 50  # pieces span word boundaries
    assert all(b"\n" not in b or b == b"\n" for b in vocab if b)
    _same_ids_and_round_trip(path, [d for docs in corpora.values() for d in docs[:2]] + STRESS)
    other = S.train_supertoken(iter(english), 3000, seed=2)
    assert S.train_supertoken(iter(english), 3000, seed=1).hf.to_str() == trained.hf.to_str()
    assert other.hf.to_str() != trained.hf.to_str()


# --- CLI ------------------------------------------------------------------------------------------------------------


def test_cli_train_and_sweep(cli, tmp_path, english):
    corpus = tmp_path / "train.txt"
    corpus.write_text("".join(english[:700]), encoding="utf-8")
    held = tmp_path / "held.txt"
    held.write_text("".join(english[700:1000]), encoding="utf-8")
    out = tmp_path / "sb.json"
    res = cli("train", corpus, "--algo", "superbpe", "--vocab-size", "1200", "--transition", "0.6", "-o", out)
    assert res.code == 0, res.err
    assert Tokenizer.from_file(str(out)).get_vocab_size() == 1200
    res = cli("train", corpus, "--algo", "superbpe", "--vocab-size", "1200", "--special-tokens", "<|endoftext|>,<pad>",
              "--normalizer", "nfc", "-o", out, "--force")
    assert res.code == 0, res.err
    saved = Tokenizer.from_file(str(out))
    assert saved.token_to_id("<|endoftext|>") == 0 and saved.token_to_id("<pad>") == 1
    assert saved.get_vocab_size() == 1200 and saved.normalizer is not None
    res = cli("train", corpus, "--algo", "superbpe", "--normalizer", "nfkc", "-o", tmp_path / "x.json")
    assert res.code == 2 and "--normalizer" in res.err
    res = cli("train", corpus, "--algo", "bpe", "--max-words", "2", "-o", tmp_path / "x.json")
    assert res.code == 2 and "--max-words" in res.err
    res = cli("train", corpus, "--algo", "char-bpe", "--seed", "2", "-o", tmp_path / "x.json")
    assert res.code == 2 and "--seed" in res.err
    res = cli("sweep", corpus, "--eval", held, "--vocab-size", "1200", "--transition", "0.5,0.8", "-o",
              tmp_path / "sweep")
    assert res.code == 0, res.err
    records = json.loads(res.out)
    assert [r["tokenizer"] for r in records] == ["bpe", "superbpe-t0.5", "superbpe-t0.8"]
    assert all(r["bytes_per_token"] > 1 for r in records)
    # the reported bytes/token is what tokenizers itself gives on the held-out text
    text = held.read_text(encoding="utf-8")
    hf = Tokenizer.from_file(str(tmp_path / "sweep" / "superbpe-t0.5" / "tokenizer.json"))
    assert records[1]["bytes_per_token"] == pytest.approx(len(text.encode()) / len(hf.encode(text).ids), abs=1e-4)
    assert (tmp_path / "sweep" / "sweep.png").stat().st_size > 1000
    res = cli("sweep", corpus, "--eval", held, "--transition", "0.5,x", "-o", tmp_path / "sweep2")
    assert res.code == 2 and "--transition" in res.err
