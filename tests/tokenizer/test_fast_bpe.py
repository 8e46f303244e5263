"""The numba byte-level BPE encoder gives the ids `tokenizers` gives, on real tokenizer.json files and real text."""

import collections
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import regex
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from tokbench.tokenizer.fast_bpe import BPEEncoder, Unsupported
from tokbench.tokenizer.presets import PRETOKENIZERS, pattern
from tokbench.train.bpe import train_bpe

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
    import tokbench.tokenizer.fast_bpe as be

    saved = be._small_left[0]
    try:
        be._small_left[0] = 10**15  # the numpy route finds the whole words too
        assert _split(*enc.encode_batch(words)) == hf and be._small_left[0] > 0
        assert all(len(x) > 1 for x in _split(*plain.encode_batch(words)))
    finally:
        be._small_left[0] = saved


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


@pytest.mark.parametrize("pretokenizer,normalizer", [(p, "none") for p in sorted(PRETOKENIZERS)] + [("gpt2", "nfkc")])
def test_trained_tokenizer_ids_equal_hf(pretokenizer, normalizer, lines, tmp_path):
    files = sorted(FLORES.glob("*.devtest")) or sorted((Path(sysconfig.get_paths()["stdlib"]) / "json").glob("*.py"))
    words, counts = _word_counts(files, pattern(pretokenizer))
    tok = train_bpe(words, counts, 3000, 0, ["<|endoftext|>", "<pad>"], pretokenizer, normalizer)
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    if pretokenizer == "none":  # one piece per line: not the encoder's job, the adapter keeps HF's encoder
        with pytest.raises(Unsupported, match="not supported by the fast encoder"):
            BPEEncoder.from_tokenizer_json(path)
        return
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


def test_not_byte_level_bpe_is_unsupported(tmp_path):
    from tokenizers import models

    tok = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    with pytest.raises(Unsupported, match="BPE"):
        BPEEncoder.from_tokenizer_json(tok)
    no_bytes = Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 2}, [("a", "b")]))
    with pytest.raises(Unsupported):
        BPEEncoder.from_tokenizer_json(no_bytes)


def test_fast_encoder_matches_the_adapter_policy():
    """fast_encoder: special-token text is plain text (as the adapter sets it up), None where it does not apply."""
    from tokenizers import models

    from tokbench.tokenizer.fast_bpe import fast_encoder

    path = _npm("gpt2")
    hf = Tokenizer.from_file(str(path))
    hf.encode_special_tokens = True
    texts = ["plain <|endoftext|> text", "x<|endoftext|>"]
    assert _split(*fast_encoder(str(path)).encode_batch(texts)) == _hf_ids(hf, texts)
    assert fast_encoder(Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))) is None


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_ids_equal_tiktoken(name, lines):
    """tiktoken encodings from the zoo: ids equal `Encoding.encode_ordinary` (special-token text is plain text)."""
    from tokbench.tokenizer import formats, zoo

    try:
        path = zoo.resolve(name)
    except Exception as exc:  # the zoo needs its registry packages
        pytest.skip(f"{name} not available: {exc}")
    encoding, normalize = formats.descriptor_encoding(path)
    enc = BPEEncoder.from_descriptor(path)
    texts = lines[:3000]
    ref = [encoding.encode_ordinary(normalize(t)) for t in texts]
    assert _split(*enc.encode_batch(texts)) == ref


def test_chunked_batches_equal_one_by_one(monkeypatch, lines):
    """Big batches go through in chunks; the ids and offsets must not depend on where the chunks fall."""
    import tokbench.tokenizer.fast_bpe as be

    path = _npm("gpt2")
    whole = BPEEncoder.from_tokenizer_json(path).encode_batch(lines)
    monkeypatch.setattr(be, "CHUNK_CHARS", 997)
    chunked = BPEEncoder.from_tokenizer_json(path).encode_batch(lines)
    assert np.array_equal(whole[0], chunked[0]) and np.array_equal(whole[1], chunked[1])
    ids, offsets = BPEEncoder.from_tokenizer_json(path).encode_batch([])
    assert len(ids) == 0 and offsets.tolist() == [0]


def test_threads_give_the_same_ids(monkeypatch, lines):
    """Chunks encoded on several threads (each with its own word cache) give the ids of one thread."""
    import tokbench.tokenizer.fast_bpe as be

    monkeypatch.setattr(be, "CHUNK_CHARS", 4999)  # many chunks, so every thread gets work
    enc = BPEEncoder.from_tokenizer_json(_npm("gpt2"))
    one = enc.encode_batch(lines, threads=1)
    for threads in (2, 3):
        many = enc.encode_batch(lines, threads=threads)
        assert np.array_equal(one[0], many[0]) and np.array_equal(one[1], many[1])


def test_rank_tables_equal_python_reference(tmp_path):
    """The kernels that read a .tiktoken file and derive tiktoken's merges agree with plain Python (base64 + dict)."""
    import base64

    from tokbench.errors import InputError
    from tokbench.tokenizer import formats, zoo
    from tokbench.tokenizer.fast_bpe import read_ranks_arrays

    try:
        path = formats.read_descriptor(zoo.resolve("cl100k_base"))["ranks"]
    except Exception as exc:  # the zoo needs its registry packages
        pytest.skip(f"cl100k_base not available: {exc}")
    ref = {}
    for line in path.read_bytes().splitlines():
        token, rank = line.split()
        ref[base64.b64decode(token)] = int(rank)
    pool, starts, ends, ranks = read_ranks_arrays(path)
    raw = pool.tobytes()
    assert {raw[a:b]: int(r) for a, b, r in zip(starts.tolist(), ends.tolist(), ranks.tolist())} == ref
    enc = BPEEncoder.from_descriptor(zoo.resolve("cl100k_base"))
    expected = {(ref[t[:k]], ref[t[k:]]): r for t, r in ref.items() for k in range(1, len(t))
                if t[:k] in ref and t[k:] in ref}
    slots, keys, mranks, new = enc._merges
    got = {(int(k >> 32), int(k & 0xFFFFFFFF)): int(n) for k, n in zip(keys.tolist(), new.tolist())}
    assert got == expected  # new id = rank (id offset 0); a pair listed twice keeps its last rank
    bad = tmp_path / "bad.tiktoken"
    bad.write_bytes(b"IQ== 0\n\nIg== x\n")
    with pytest.raises(InputError, match=r"bad.tiktoken: line 3 is not `base64 rank`"):
        read_ranks_arrays(bad)


# --- the no-numba path for small batches (SMALL_BUDGET) and the on-disk table cache ---------------------------------


def _corpora_texts():
    """Real text from every bundled corpus (code, dictionary, legal, tech, 8 languages), in documents of 1500 chars."""
    texts = []
    for folder in sorted({f.parent for f in (REPO / "corpora").rglob("*.txt")}):
        for f in sorted(folder.glob("*.txt"))[:3]:
            text = f.read_text(encoding="utf-8")[:6000]
            texts += [text[i : i + 1500] for i in range(0, len(text), 1500)]
    return texts


@pytest.fixture(params=["numpy", "kernels"])
def route(request, monkeypatch):
    """Every batch through the numpy path (no piece too long for it) or every batch through the numba kernels."""
    import tokbench.tokenizer.fast_bpe as be

    if request.param == "numpy":
        monkeypatch.setattr(be, "_small_left", [10**15])
        monkeypatch.setattr(be, "SMALL_PIECE", 10**9)
    else:
        monkeypatch.setattr(be, "_small_left", [0])
    yield request.param
    assert (be._small_left[0] > 0) == (request.param == "numpy")  # the route asked for is the one that ran


def _zoo_encoders(name):
    from tokbench.tokenizer import formats, zoo

    try:
        path = zoo.resolve(name)
    except Exception as exc:  # the zoo needs its registry packages
        pytest.skip(f"{name} not available: {exc}")
    if name not in _CACHE:
        encoding, normalize = formats.descriptor_encoding(path)
        _CACHE[name] = BPEEncoder.from_descriptor(path), lambda t: encoding.encode_ordinary(normalize(t))
    return _CACHE[name]


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_both_routes_equal_tiktoken_on_the_corpora(name, route, lines):
    enc, reference = _zoo_encoders(name)
    texts = _corpora_texts() + lines[:1500]
    assert len(texts) > 1000
    assert _split(*enc.encode_batch(texts)) == [reference(t) for t in texts]


@pytest.mark.parametrize("name", ["gpt2", "qwen3", "llama3"])  # llama3: ignore_merges (whole tokens, _whole_tokens)
def test_both_routes_equal_hf_on_the_corpora(name, route, lines):
    enc, hf = _encoders(str(_npm(name)))
    texts = _corpora_texts() + lines[:1500]
    assert _split(*enc.encode_batch(texts)) == _hf_ids(hf, texts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=6), st.sampled_from(["cl100k_base", "o200k_base", "gpt2"]))
@example(["\U0003d000$L", "a $L"], "cl100k_base")
def test_numpy_route_on_random_text(texts, name):
    """Random strings (any code point) through the numpy route give the kernels' ids, and tiktoken's / HF's where
    every character is assigned in Python's Unicode (3.11: 14.0). Characters assigned later (e.g. U+3D000, a letter to
    `regex` 2026 but not to tiktoken's Rust regex) split as `regex` says, on both routes: a version gap, not a route's."""
    import unicodedata

    import tokbench.tokenizer.fast_bpe as be

    if name == "gpt2":
        enc, hf = _encoders(str(_npm(name)))
        reference = lambda batch: _hf_ids(hf, batch)  # noqa: E731
    else:
        enc, ref = _zoo_encoders(name)
        reference = lambda batch: [ref(t) for t in batch]  # noqa: E731
    saved = be._small_left[0]
    try:
        be._small_left[0] = 10**15
        small = enc.encode_batch(texts)
        assert be._small_left[0] > 0
        be._small_left[0] = 0
        kernels = enc.encode_batch(texts)
    finally:
        be._small_left[0] = saved
    assert np.array_equal(small[0], kernels[0]) and np.array_equal(small[1], kernels[1])
    known = [i for i, t in enumerate(texts) if all(unicodedata.category(c) != "Cn" for c in t)]
    assert [_split(*small)[i] for i in known] == reference([texts[i] for i in known])


def test_small_batches_skip_numba_until_the_budget_is_spent(monkeypatch):
    import tokbench.tokenizer.fast_bpe as be

    enc, reference = _zoo_encoders("cl100k_base")
    monkeypatch.setattr(be, "_small_left", [1000])
    long_piece = "x" * (be.SMALL_PIECE + 1)
    assert enc.encode(long_piece) == reference(long_piece)  # a long piece takes the kernels: they are loaded now
    assert be._small_left[0] == 0
    monkeypatch.setattr(be, "_small_left", [1000])
    text = "a few words " * 50
    assert enc.encode(text) == reference(text) and be._small_left[0] == 400
    assert enc.encode(text[:401]) == reference(text[:401]) and be._small_left[0] == 0  # over the budget: kernels
    assert enc.encode("c") == reference("c") and be._small_left[0] == 0  # and from then on


def test_rank_tables_are_cached_by_the_file_hash(tmp_path, monkeypatch):
    """The tables of a rank file are built once (kernels) and then loaded from the user cache without a kernel; a
    changed file gets its own entry, a damaged entry is rebuilt, a cache folder that cannot be made only costs the rebuild."""
    import base64

    import tokbench.tokenizer.fast_bpe as be
    from tokbench.errors import UsageError

    monkeypatch.setenv("TOKBENCH_CACHE", str(tmp_path / "cache"))
    ranks = {bytes([b]): b for b in range(256)} | {b"ab": 256, b"abc": 257, b" a": 258}
    rank_file = tmp_path / "r.tiktoken"
    rank_file.write_bytes(b"".join(base64.b64encode(t) + b" %d\n" % r for t, r in ranks.items()))
    built = be.rank_file_tables(rank_file, 5)
    (entry,) = (tmp_path / "cache" / "encoder").iterdir()
    assert entry.name.endswith("-offset5-v%d" % be.TABLES_VERSION)

    def no_kernels():
        raise AssertionError("a cached table must load without the kernels")

    with monkeypatch.context() as m:
        m.setattr(be, "_kernels", no_kernels)
        loaded = be.rank_file_tables(rank_file, 5)
    for name, a, b in zip(be.Tables._fields, built, loaded):
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert loaded.pool[loaded.offs[262]:loaded.offs[263]].tobytes() == b"abc"  # id = rank + offset
    enc = BPEEncoder.from_rank_tables(loaded, pattern("cl100k"))
    assert enc.encode("abc ab a") == [262, 37, 261, 263]  # " ab" is no token: " " (32 + 5), then "ab"
    (entry / "m_keys.npy").write_bytes(b"damaged")
    assert np.array_equal(be.rank_file_tables(rank_file, 5).m_keys, built.m_keys)
    np.save(entry / "m_new.npy", built.m_new[:-1])  # loads, but does not fit the other arrays: rebuilt
    assert np.array_equal(be.rank_file_tables(rank_file, 5).m_new, built.m_new)
    with monkeypatch.context() as m:
        m.setattr(be, "_tables_folder", lambda key: None)  # no cache folder (a full disk): the same tables
        assert np.array_equal(be.rank_file_tables(rank_file, 5).m_table, built.m_table)
    rank_file.write_bytes(rank_file.read_bytes() + base64.b64encode(b"abca") + b" 259\n")
    assert len(be.rank_file_tables(rank_file, 5).offs) == len(built.offs) + 1
    assert len(list((tmp_path / "cache" / "encoder").iterdir())) == 2
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("TOKBENCH_CACHE", str(tmp_path / "file"))  # not a folder: a usage error, as for every cache
    with pytest.raises(UsageError, match="the cache must be a folder"):
        be.rank_file_tables(rank_file, 5)


@pytest.mark.parametrize("name", ["gpt2", "qwen3"])
def test_tokenizer_json_tables_are_cached(name, tmp_path, monkeypatch, lines):
    """A tokenizer.json path's tables and settings come back from the cache (no JSON parse, no kernel) and encode as
    the freshly built encoder and HF do, added tokens included."""
    import tokbench.tokenizer.fast_bpe as be

    monkeypatch.setenv("TOKBENCH_CACHE", str(tmp_path))
    path = _npm(name)
    built = BPEEncoder.from_tokenizer_json(path)
    with monkeypatch.context() as m:
        m.setattr(be, "_kernels", lambda: pytest.fail("a cached tokenizer.json must load without the kernels"))
        m.setattr(be, "_tokenizer_json_parts", lambda *a: pytest.fail("a cached tokenizer.json is not parsed"))
        cached = BPEEncoder.from_tokenizer_json(path)
        assert cached.added_tokens == built.added_tokens and cached.pattern_text == built.pattern_text
        assert (cached.normalizer, cached.ignore_merges, cached.isolated, cached.engine) == (
            built.normalizer, built.ignore_merges, built.isolated, built.engine)
        m.setattr(be, "_small_left", [10**15])
        m.setattr(be, "SMALL_PIECE", 10**9)  # all through numpy: no kernel anywhere
        texts = lines[:300] + ["a<|endoftext|>b", "<|im_start|>user\nhi<|im_end|>"]
        got = _split(*cached.encode_batch(texts))
    assert got == _split(*built.encode_batch(texts)) == _hf_ids(Tokenizer.from_file(str(path)), texts)


def test_utf8_kernel_matches_str_encode():
    """The nogil UTF-8 kernel the batch encoder uses gives Python's own bytes and each code point's byte offset."""
    import random

    from tokbench.kernels.bpe_encode import utf8_encode

    rng = random.Random(7)
    points = [0, 0x41, 0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF]
    for text in ["", "a", "".join(map(chr, points)),
                 "".join(chr(rng.choice([rng.randrange(0x80), rng.randrange(0x80, 0xD800), rng.randrange(0x10000,
                                                                                                        0x110000)]))
                         for _ in range(5000))]:
        cps = np.frombuffer(text.encode("utf-32-le"), np.int32)
        buf, pos = utf8_encode(cps)
        assert buf[: pos[-1]].tobytes() == text.encode("utf-8")
        assert pos.tolist() == [len(text[:i].encode("utf-8")) for i in range(len(text) + 1)]
