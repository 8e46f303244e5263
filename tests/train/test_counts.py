"""Word counts equal a pure-Python reference (regex.findall per line + Counter); shards sum to the whole; files
round-trip byte-identically; bad files give one-line InputErrors naming the file."""

import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import numpy as np
import pytest
import regex

from tokbench.errors import InputError, UsageError
from tokbench.tokenizer import presets
from tokbench.tokenizer.bytelevel import char_to_byte
from tokbench.train.counts import WordCounts, count_blocks, count_texts, count_words

FLORES = sorted(Path("/work/shared/corpora/flores200").glob("*_Latn.dev*")) + sorted(Path("corpora").glob("**/*.txt"))[:4]

# Text we make ourselves, so the tests also run without any corpus: mixed scripts, odd whitespace, CRLF, contractions.
MADE = (
    "The quick brown fox's 12345 jumps; it'LL   be fine.\r\n"
    "\tTabs\tand  double  spaces  \n"
    "\n"
    "Türkçe metin: İstanbul'da 3 gün kaldık, çok güzeldi!\n"
    "中文句子。日本語の文。 😀 👍🏽 a\u3000b\u00a0c\u2028d\n"
    "café naïve e\u0301 ﬁne ① ½\n"
    "no final newline   "
) * 7


def corpus_lines() -> list[str]:
    lines = [ln for f in FLORES for ln in f.read_text(encoding="utf-8").splitlines(keepends=True)]
    return lines + MADE.splitlines(keepends=True)


def reference(lines, name, normalizer=None) -> dict[bytes, int]:
    pat = regex.compile(presets.pattern(name))
    return dict(Counter(w.encode() for ln in lines for w in pat.findall(presets.normalize(ln, normalizer))))


@pytest.mark.parametrize("name", presets.PRETOKENIZERS)
def test_counts_equal_python_reference(name):
    lines = corpus_lines()
    wc = count_words(lines, name, batch_chars=5000)  # small batches: many batches and table growth
    assert wc.to_dict() == reference(lines, name)
    assert wc.total == sum(reference(lines, name).values())
    assert wc.words == sorted(wc.words)


@pytest.mark.parametrize("normalizer", ["nfc", "nfkc"])
def test_counts_with_normalizer(normalizer):
    lines = MADE.splitlines(keepends=True)
    wc = count_words(lines, "gpt2", normalizer)
    assert wc.normalizer == normalizer
    assert wc.to_dict() == reference(lines, "gpt2", normalizer)
    assert wc.to_dict() != reference(lines, "gpt2")  # the normalizer really changed something here


def test_lines_are_pretokenized_one_at_a_time():
    """Lines "x\\n", "\\n", "  y\\n" give three "\\n"; one regex pass over the text would give "\\n\\n " instead."""
    wc = count_texts(["x\n\n  y\n"], "gpt2")
    assert wc.to_dict() == {b"x": 1, b"\n": 3, b" ": 1, b" y": 1}
    assert regex.findall(presets.pattern("gpt2"), "x\n\n  y\n") == ["x", "\n\n ", " y", "\n"]


@pytest.mark.parametrize("name", ["gpt2", "o200k"])
@pytest.mark.parametrize("normalizer", [None, "nfc"])
def test_threads_and_blocks_count_the_same(name, normalizer):
    """Any number of threads, lines or whole blocks of lines: the same table as the per-line Python reference."""
    lines = corpus_lines()
    ref = reference(lines, name, normalizer)
    for threads in (1, 2, 3):
        assert count_words(lines, name, normalizer, batch_chars=3000, threads=threads).to_dict() == ref
    text = "".join(lines)
    cuts = [0] + [text.index("\n", k) + 1 for k in range(1000, len(text) - 2000, 7919)] + [len(text)]
    blocks = [text[a:b] for a, b in zip(cuts, cuts[1:])]  # each block ends with "\n" but the last
    whole = count_texts([text], name, normalizer)  # splitlines() above also cut at \\u2028 etc.; blocks cut at "\\n" only
    for threads in (1, 2):
        assert count_blocks(blocks, name, normalizer, threads=threads) == whole


def test_blocks_cut_lines_after_each_newline():
    """A block's lines end after "\\n" (one regex pass per line, as for count_words); an empty block counts nothing."""
    assert count_blocks(["x\n\n  y\n", "", "z"], "gpt2").to_dict() == {b"x": 1, b"\n": 3, b" ": 1, b" y": 1, b"z": 1}


# whitespace-kept is left out: HF's Split runs Oniguruma, whose \w takes in ²³¹¼½¾ and leaves out ZWJ/ZWNJ, unlike the
# `regex` package the scanner follows (HF's own Whitespace pre-tokenizer, Rust regex, agrees with `regex`: tested here).
@pytest.mark.parametrize("name", [n for n in presets.PRETOKENIZERS if n != "whitespace-kept"])
def test_matches_hf_pretokenizer(name):
    """Counts equal those from the HF pre-tokenizer the trainer would use (bytes mapped back from ByteLevel chars)."""
    hf = presets.hf_pretokenizer(name)
    byte_of = char_to_byte()
    lines = corpus_lines()
    ref = Counter(bytes(byte_of[c] for c in piece) for ln in lines for piece, _ in hf.pre_tokenize_str(ln))
    assert count_words(lines, name).to_dict() == dict(ref)


@pytest.mark.parametrize("name", ["gpt2", "cl100k"])
def test_shards_sum_to_whole(tmp_path, name):
    lines = corpus_lines()
    whole = count_words(lines, name)
    cuts = [0, 7, len(lines) // 3, len(lines) // 2 + 1, len(lines)]
    shards = [count_words(lines[a:b], name) for a, b in zip(cuts, cuts[1:])]
    assert sum(shards[1:], shards[0]) == whole
    paths = [s.save(tmp_path / f"shard{i}.parquet") for i, s in enumerate(shards)]
    assert WordCounts.load(paths) == whole
    whole.save(tmp_path / "whole.parquet")
    merged = WordCounts.load(paths).save(tmp_path / "merged.parquet")
    assert merged.read_bytes() == (tmp_path / "whole.parquet").read_bytes()


def test_save_load_round_trip(tmp_path):
    wc = count_words(corpus_lines(), "llama3", "nfc")
    p = wc.save(tmp_path / "c.parquet")
    back = WordCounts.load(p)
    assert back == wc and back.pretokenizer == "llama3" and back.normalizer == "nfc"
    assert back.to_dict() == wc.to_dict()
    t = pq.read_table(p)
    assert t.schema.field("word").type == pa.binary() and t.schema.field("count").type == pa.int64()
    assert wc.save(tmp_path / "again.parquet").read_bytes() == p.read_bytes()
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temp file


def test_arrays_view():
    wc = WordCounts.from_dict({b"b": 2, b"a": 5, "ç".encode(): 1}, "gpt2")
    flat, offsets, counts = wc.arrays()
    words = [bytes(flat[offsets[i] : offsets[i + 1]]) for i in range(len(wc))]
    assert words == [b"a", b"b", "ç".encode()] and counts.tolist() == [5, 2, 1]


def test_sum_of_many_tables_equals_counter_sum():
    """WordCounts.sum merges canonical tables pairwise (an odd number, an empty one, words shared by some): the
    result is the Counter sum, one row per word in byte order."""
    rng = random.Random(5)
    vocab = [bytes(rng.choices(b"abc\xc3\xa7 ", k=rng.randint(1, 4))) for _ in range(300)]
    dicts = [Counter(rng.choices(vocab, k=rng.randint(0, 400))) for _ in range(7)] + [Counter()]
    tables = [WordCounts.from_dict(dict(d), "gpt2") for d in dicts]
    total = WordCounts.sum(tables)
    assert total.to_dict() == dict(sum(dicts, Counter())) and total.words == sorted(total.words)


def test_add_merges_and_checks_presets():
    a = WordCounts.from_dict({b"x": 1, b"y": 2}, "gpt2")
    b = WordCounts.from_dict({b"y": 3, b"z": 4}, "gpt2")
    assert (a + b).to_dict() == {b"x": 1, b"y": 5, b"z": 4}
    with pytest.raises(InputError, match="pretokenizer"):
        a + WordCounts.from_dict({b"x": 1}, "cl100k")


def test_load_errors(tmp_path):
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.parquet"
    good = WordCounts.from_dict({b"hello": 3}, "gpt2").save(tmp_path / "good.parquet")
    corrupt.write_bytes(good.read_bytes()[:-20])
    for bad in (empty, corrupt, tmp_path / "missing.parquet"):
        with pytest.raises(InputError) as e:
            WordCounts.load([good, bad])
        assert str(bad) in str(e.value) and "\n" not in str(e.value)
    other = WordCounts.from_dict({b"hello": 3}, "gpt2", "nfkc").save(tmp_path / "other.parquet")
    with pytest.raises(InputError, match="normalizer.*other.parquet|other.parquet.*normalizer"):
        WordCounts.load([good, other])
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"word": [b"a"], "count": [1]}), plain)
    with pytest.raises(InputError, match="plain.parquet.*not a tokbench word-count file"):
        WordCounts.load(plain)
    nothing = WordCounts.from_dict({}, "gpt2").save(tmp_path / "nothing.parquet")
    with pytest.raises(InputError, match="empty"):
        WordCounts.load(nothing)
    assert len(WordCounts.load(nothing, allow_empty=True)) == 0
    with pytest.raises(UsageError):
        WordCounts.load([])


def test_lone_surrogates_pass_through():
    """Text decoded with surrogateescape still counts like regex does (words keep the surrogate's 3 bytes)."""
    lines = ["ab\udc80cd 'x\udcff\n", "\udc80\n"]
    pat = regex.compile(presets.pattern("gpt2"))
    ref = Counter(w.encode("utf-8", "surrogatepass") for ln in lines for w in pat.findall(ln))
    assert count_words(lines, "gpt2").to_dict() == dict(ref)


# --- datasets, partitions, sums past 32 bits ------------------------------------------------------------------------
def test_dataset_of_partitions_reads_as_one_table(tmp_path):
    from tokbench.train.counts import save_dataset

    lines = corpus_lines()
    whole = count_words(lines, "gpt2")
    parts = whole.partition(5)
    assert sum(len(p) for p in parts) == len(whole) and WordCounts.sum(parts) == whole
    assert all(set(a.words).isdisjoint(b.words) for a in parts for b in parts if a is not b)
    assert [len(p) for p in count_words(lines[::-1], "gpt2").partition(5)] == [len(p) for p in parts]  # by hash
    folder = save_dataset(parts, tmp_path / "counts")
    assert sorted(p.name for p in folder.iterdir()) == [f"part-0000{k}.parquet" for k in range(5)]
    table = pq.read_table(folder)  # pyarrow (and pandas) read the folder as one table
    assert dict(zip(table.column("word").to_pylist(), table.column("count").to_pylist())) == whole.to_dict()
    assert WordCounts.load(folder) == whole
    with pytest.raises(UsageError, match="already exists"):
        save_dataset(parts, folder)
    kept = whole.at_least(3)
    assert kept.to_dict() == {w: c for w, c in whole.to_dict().items() if c >= 3} and 0 < len(kept) < len(whole)


def test_counts_past_32_bits_sum_and_train_exactly():
    """Every count x 2**31 in two tables: the sums are count x 2**32, which 32-bit counters would wrap to 0. BPE on
    counts scaled by a constant makes the same merges, so the tokenizer must equal the one trained on the originals."""
    from tokbench.train.bpe import train_bpe_counts

    small = count_words(MADE.splitlines(keepends=True), "gpt2")
    data, offsets, counts = small.arrays()
    half = WordCounts(data, offsets, counts * 2**31, "gpt2", canonical=True)
    big = WordCounts.sum([half, half])
    assert big.counts.dtype == np.int64 and (big.counts == counts * 2**32).all() and big.total > 2**40
    assert train_bpe_counts(big, 400).to_str() == train_bpe_counts(small, 400).to_str()


def test_sharded_count_in_process_equals_one_pass(tmp_path):
    import functools

    from tokbench.corpus import Corpus
    from tokbench.train.counts import count_sharded, word_splitters
    from tokbench.train.runners import Runner

    (tmp_path / "a.txt").write_text(MADE, encoding="utf-8")
    (tmp_path / "b.txt").write_text("", encoding="utf-8")
    corpus = Corpus([str(tmp_path)])
    shards = [(s,) for s in corpus.shards(100)]
    (total,) = count_sharded(Runner(), shards, functools.partial(word_splitters, "cl100k"), "cl100k", parts=3)
    assert total == count_words(corpus.lines(), "cl100k")
    stats = count_sharded(Runner(), shards, functools.partial(word_splitters, "cl100k"), "cl100k", parts=3,
                          min_count=2, folder=tmp_path)
    assert [n for n, _ in stats] == [len(p) for p in total.at_least(2).partition(3)]


def test_corpus_blocks_count_as_its_lines(tmp_path, monkeypatch):
    """Corpus.blocks() (what train/count read) holds the same lines as Corpus.lines(): files that end without a
    newline stay apart, .gz and JSONL included, whatever the block size; a bad byte is named at the same offset."""
    import gzip

    from tokbench import corpus as C
    from tokbench.corpus import Corpus

    (tmp_path / "a.txt").write_text("one line\nno newline at the end", encoding="utf-8")
    (tmp_path / "b.txt").write_text(MADE, encoding="utf-8")
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(MADE[:500].encode()))
    (tmp_path / "d.jsonl").write_text('{"text": "rec one\\r\\nrec\\u2028two"}\n{"text": "x"}\n', encoding="utf-8")
    corpus = Corpus([str(tmp_path)])
    lines = list(corpus.lines())
    for size in (7, 64, 1 << 22):
        monkeypatch.setattr(C, "BLOCK_SIZE", size)
        blocks = list(corpus.blocks())
        assert "".join(blocks) == "".join(lines)
        assert count_blocks(blocks, "gpt2") == count_words(lines, "gpt2")
    (tmp_path / "e.txt").write_bytes(b"fine\n" * 30 + b"bad \xff byte\n")
    with pytest.raises(InputError, match=r"e.txt: invalid UTF-8 at byte offset 154"):
        list(Corpus([str(tmp_path / "e.txt")]).blocks())
