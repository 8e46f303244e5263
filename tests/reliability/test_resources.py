"""Class 5: bounded resources. A --vocab-size far beyond what the corpus can produce trains what the corpus allows
(the same tokenizer as a sane size) within a memory limit; an impossible size is a usage error naming the flag; a
MemoryError is one line naming the flag that asked for it."""

from __future__ import annotations

import json

import pytest

GIB = 1 << 30


@pytest.mark.parametrize("algo", ["bpe", "superbpe", "supertoken", "char-bpe"])
def test_huge_vocab_size_is_bounded_by_the_corpus(tb, tmp_path, corpus, algo):
    """Under a 4 GiB address-space limit, --vocab-size 1e9 on a 20 KB corpus trains, and for BPE gives the very
    tokenizer a size just above what the corpus can reach gives (the HF trainer's result, independently)."""
    r = tb("train", corpus, "--algo", algo, "--vocab-size", "1000000000", "-o", tmp_path / "huge.json", memory=4 * GIB)
    assert r.code == 0, r.err
    huge = json.loads((tmp_path / "huge.json").read_text())
    assert 256 < len(huge["model"]["vocab"]) < 200_000
    if algo == "bpe":
        r = tb("train", corpus, "--engine", "hf", "--vocab-size", "200000", "-o", tmp_path / "hf.json")
        assert r.code == 0, r.err
        assert huge["model"] == json.loads((tmp_path / "hf.json").read_text())["model"]


@pytest.mark.parametrize("algo", ["bpe-hf", "wordpiece", "sp-bpe", "unigram"])
def test_huge_vocab_size_on_other_engines(tb, tmp_path, corpus, algo):
    args = ["--algo", "bpe", "--engine", "hf"] if algo == "bpe-hf" else ["--algo", algo]
    r = tb("train", corpus, *args, "--vocab-size", "1000000000", "-o", tmp_path / "t.json", memory=4 * GIB)
    if r.code == 0:
        assert len(json.loads((tmp_path / "t.json").read_text())["model"]["vocab"]) < 200_000
    else:
        assert r.code == 2
        r.one_line("--vocab-size")


@pytest.mark.parametrize("engine", ["numba", "hf"])
def test_vocab_size_beyond_any_engine(tb, tmp_path, corpus, engine):
    """On stdin the text's size is unknown until read: a size no engine can hold is refused up front."""
    r = tb("train", "-", "--engine", engine, "--vocab-size", str(10 ** 9), "-o", tmp_path / "t.json",
           stdin=corpus.read_bytes(), memory=4 * GIB)
    assert r.code == 2
    r.one_line("--vocab-size")


def test_pad_to_multiple_of_is_bounded(tb, tmp_path):
    """Checked with the other flags, before the model loads."""
    r = tb("transplant", "--model", "smollm2", "--tokenizer", "gpt2", "--method", "mean", "-o", tmp_path / "m",
           "--pad-to-multiple-of", str(10 ** 12))
    assert r.code == 2
    r.one_line("--pad-to-multiple-of")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("exc", [MemoryError(), RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried "
                                                               "to allocate 4000000000000 bytes")])
def test_memory_error_is_one_line_naming_the_flag(capsys, exc):
    """The CLI's one mapping: numpy's MemoryError and torch's allocator error alike name the largest size flag."""
    from tokbench.cli import _exit_code

    code = _exit_code(exc, ["train", "c.txt", "--vocab-size", "1000000000", "--min-frequency", "2"], debug=False)
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("tokbench: error: out of memory") and "--vocab-size 1000000000" in err
