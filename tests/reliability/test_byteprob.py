"""Class 8: byteprob edge cases. Valid JSON where a probability is 0 (null plus a reason), null bits per byte for an
empty text, a usage error for a tokenizer with no start token, a clear error for non-UTF-8 arguments."""

from __future__ import annotations

import json
import math

import pytest


def _strict_json(text: str):
    """Parse as a strict JSON reader would: Infinity and NaN are not JSON."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_probability_zero_is_null_with_a_reason(tb, fmt):
    """bert-base-uncased (WordPiece) cannot spell "Hello" with its capital: log-probability -inf at byte level."""
    r = tb("bytes", "logprob", "-m", "random:bert-base-uncased", "Hello", "--format", fmt)
    assert r.code == 0, r.err
    rec = _strict_json(r.out.splitlines()[0] if fmt == "jsonl" else r.out)
    rec = rec[0] if isinstance(rec, list) else rec
    assert rec["logprob"] is None and rec["bits_per_byte"] is None
    assert "probability 0" in rec["reason"] and "logprob" in rec["reason"]
    assert math.isfinite(rec["token_logprob"])  # the token-level figure is still there


@pytest.mark.parametrize("eos", [False, True])
def test_empty_text_has_null_bits_per_byte(tb, eos):
    r = tb("bytes", "logprob", "-m", "random:gpt2", "", *(["--eos"] if eos else []), "--format", "jsonl")
    assert r.code == 0, r.err
    rec = _strict_json(r.out)
    assert rec["bytes"] == 0 and rec["bits_per_byte"] is None and rec["token_bits_per_byte"] is None


def test_tokenizer_without_a_start_token(tb, tmp_path, corpus):
    r = tb("train", corpus, "--vocab-size", "300", "-o", tmp_path / "plain.json")
    assert r.code == 0
    r = tb("bytes", "logprob", "-m", f"random:{tmp_path / 'plain.json'}", "hello")
    assert r.code == 2
    r.one_line("plain.json", "no start token")


def test_start_and_end_under_other_ids_work(tb, tmp_path, corpus):
    """<s> and </s> as ids 1 and 0 (not the usual 1/2): works, with finite numbers."""
    r = tb("train", corpus, "--vocab-size", "300", "--special-tokens", "</s>,<s>", "-o", tmp_path / "se.json")
    assert r.code == 0
    r = tb("bytes", "logprob", "-m", f"random:{tmp_path / 'se.json'}", "hello", "--format", "jsonl")
    assert r.code == 0, r.err
    assert math.isfinite(_strict_json(r.out)["bits_per_byte"])


@pytest.mark.parametrize("args", [["bytes", "logprob", "-m", "random:gpt2", b"caf\xe9"],
                                  ["bytes", "next", "-m", "random:gpt2", "--prefix", b"\xff\xfeab"],
                                  ["bytes", "complete", "-m", "random:gpt2", "--prefix", b"ab\xc3", "--max-bytes", "2"]])
def test_non_utf8_arguments(tb, args):
    import os

    r = tb(*[os.fsdecode(a) if isinstance(a, bytes) else a for a in args])
    assert r.code == 1
    r.one_line("not valid UTF-8")
