"""Class 6: inputs are named and read whole. Truncated and corrupt .gz, unreadable entries in a corpus folder, NUL
bytes anywhere, JSONL UTF-8 errors with line and offset, binary lexicons, malformed .tiktoken files and descriptors."""

from __future__ import annotations

import base64
import gzip
import json
import os

import pytest

from tests.reliability.conftest import leftovers

# every reader, as (argv with {c} for the corpus path, what it reads)
READERS = {
    "train": ["train", "{c}", "--vocab-size", "300", "-o", "out.json"],
    "train-hf": ["train", "{c}", "--vocab-size", "300", "--engine", "hf", "-o", "out.json"],
    "count": ["count", "{c}", "-o", "out.parquet"],
    "tokenize": ["tokenize", "-t", "gpt2", "{c}"],
    "tokenize-lines": ["tokenize", "-t", "gpt2", "--lines", "{c}"],
    "eval": ["eval", "-t", "gpt2", "-c", "{c}"],
}


def _args(name, path):
    return [str(path) if a == "{c}" else a for a in READERS[name]]


def _text(corpus) -> bytes:
    return corpus.read_bytes()


LINE_READERS = ["train", "tokenize-lines", "eval"]  # read line by line (train, --lines) and whole (eval)


@pytest.mark.parametrize("name", LINE_READERS)
@pytest.mark.parametrize("kind", ["txt.gz", "jsonl.gz"])
def test_truncated_gzip_names_the_file(tb, tmp_path, corpus, name, kind):
    text = _text(corpus)
    if kind == "jsonl.gz":
        text = b"".join(json.dumps({"text": ln}).encode() + b"\n" for ln in text.decode().splitlines())
    data = gzip.compress(text)
    bad = tmp_path / f"cut.{kind}"
    bad.write_bytes(data[: len(data) // 2])
    r = tb(*_args(name, bad))
    assert r.code == 1
    r.one_line(bad.name, "truncated")
    assert leftovers(tmp_path) == [] and not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("name", LINE_READERS)
def test_corrupt_gzip_names_the_file(tb, tmp_path, corpus, name):
    data = bytearray(gzip.compress(_text(corpus)))
    data[200:260] = bytes(60)  # a damaged block in the middle
    bad = tmp_path / "bad.txt.gz"
    bad.write_bytes(bytes(data))
    r = tb(*_args(name, bad))
    assert r.code == 1
    r.one_line(bad.name, "gzip")


@pytest.mark.parametrize("name,entry", [("train", "unreadable-file"), ("train", "unreadable-folder"),
                                        ("train", "broken-link"), ("train", "fifo"), ("eval", "unreadable-file"),
                                        ("eval", "broken-link"), ("count", "unreadable-file")])
def test_unreadable_entry_in_a_corpus_folder_fails(tb, tmp_path, corpus, name, entry):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.txt").write_bytes(_text(corpus))
    if entry == "unreadable-file":
        bad = folder / "1.txt"
        bad.chmod(0)
    elif entry == "unreadable-folder":
        bad = folder / "sub"
        bad.mkdir()
        (bad / "x.txt").write_text("hidden from the reader")
        bad.chmod(0)
    elif entry == "broken-link":
        bad = folder / "gone.txt"
        bad.symlink_to(tmp_path / "nowhere.txt")
    else:
        bad = folder / "pipe.txt"
        os.mkfifo(bad)
    r = tb(*_args(name, folder), drop_dac=True)
    try:
        assert r.code == 1
        r.one_line(bad.name)
    finally:
        bad.chmod(0o755) if entry.startswith("unreadable") else None


@pytest.mark.parametrize("name,where", [(name, "last-line") for name in sorted(READERS)]
                         + [(name, where) for name in ("train", "eval") for where in ("first-line", "middle")])
def test_nul_bytes_anywhere_are_refused(tb, tmp_path, corpus, name, where):
    text = _text(corpus)
    if where == "first-line":
        data = b"a\x00b\n" + text
    elif where == "last-line":
        data = text + b"end\x00\n"
    else:
        data = text * 4
        data = data[: len(data) // 2] + b"\x00" + data[len(data) // 2:]
    bad = tmp_path / "bin.txt"
    bad.write_bytes(data)
    r = tb(*_args(name, bad))
    assert r.code == 1
    r.one_line(bad.name, "NUL")


@pytest.mark.parametrize("name", ["train", "tokenize", "eval"])
def test_jsonl_utf8_error_gives_line_and_offset(tb, tmp_path, name):
    lines = [json.dumps({"text": f"record number {i}"}).encode() + b"\n" for i in range(5)]
    lines[3] = b'{"text": "bad \xff byte"}\n'
    bad = tmp_path / "docs.jsonl"
    bad.write_bytes(b"".join(lines))
    offset = len(b"".join(lines[:3])) + lines[3].index(b"\xff")
    r = tb(*_args(name, bad))
    assert r.code == 1
    r.one_line(bad.name, "line 4", f"offset {offset}")


def test_binary_lexicon_is_refused(tb, tmp_path, corpus):
    lex = tmp_path / "words.dic"
    lex.write_bytes(b"ev\nkitap\n\x00\x01\x02binary\n")
    r = tb("eval", "-t", "gpt2", "-c", f"{corpus}:tr", "--lexicon", lex)
    assert r.code == 1
    r.one_line(lex.name, "binary")


def _tiktoken(path, ranks):
    path.write_text("".join(f"{base64.b64encode(t).decode()} {r}\n" for t, r in ranks))
    return path


@pytest.mark.parametrize("problem", ["duplicate-rank", "missing-rank", "duplicate-token", "not-a-number", "bad-base64"])
def test_malformed_tiktoken_is_refused_before_tiktoken(tb, tmp_path, problem):
    ranks = [(bytes([b]), b) for b in range(256)] + [(b"th", 256), (b"he", 257)]
    path = tmp_path / "ranks.tiktoken"
    if problem == "duplicate-rank":
        ranks[257] = (b"he", 256)
    elif problem == "missing-rank":
        ranks[257] = (b"he", 300)
    elif problem == "duplicate-token":
        ranks[257] = (b"th", 257)
    _tiktoken(path, ranks)
    if problem == "not-a-number":
        path.write_text(path.read_text().replace(" 257\n", " two-five-seven\n"))
    elif problem == "bad-base64":
        path.write_text(path.read_text().replace("aGU= ", "a*U= "))
    r = tb("tokenize", "-t", path, stdin=b"the theme\n")
    assert r.code == 1
    line = r.one_line(path.name)
    assert len(r.err.splitlines()) < 5 and "panicked" not in r.err


def test_malformed_descriptor_is_refused(tb, tmp_path):
    """A tokenizer descriptor (JSON pointing at a rank file) with a missing key or a bad pattern names the file."""
    ranks = _tiktoken(tmp_path / "r.tiktoken", [(bytes([b]), b) for b in range(256)])
    good = {"type": "tiktoken", "name": "mine", "ranks": ranks.name, "pattern": r"\S+|\s+", "special_tokens": {}}
    cases = {
        "no-pattern.json": {k: v for k, v in good.items() if k != "pattern"},
        "bad-pattern.json": dict(good, pattern="(?P<unclosed"),
        "no-ranks.json": {k: v for k, v in good.items() if k != "ranks"},
        "missing-ranks-file.json": dict(good, ranks="gone.tiktoken"),
    }
    for name, body in cases.items():
        (tmp_path / name).write_text(json.dumps(body))
        r = tb("tokenize", "-t", tmp_path / name, stdin=b"hello\n")
        assert r.code in (1, 2), (name, r.err)
        r.one_line(name)
