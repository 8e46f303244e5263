"""`tokbench bytes ...` end to end, with a tiny random Llama on the GPT-2 tokenizer standing in for the LM."""

from __future__ import annotations

import json
import math

M = "random:gpt2"


def test_logprob_json_and_calls(cli):
    r = cli("bytes", "logprob", "--model", M, "Hello world")
    assert r.code == 0, r.err
    rec = json.loads(r.out)[0]
    assert rec["bytes"] == 11 and rec["tokens"] == 2
    assert rec["lm_calls"] == 11 + 1  # one per byte, plus the empty prefix
    assert math.isfinite(rec["bits_per_byte"])
    # the canonical path is one of the covers and renormalising over valid tokens only adds mass
    assert rec["logprob"] >= rec["token_logprob"] - 1e-6


def test_next_top_k(cli):
    r = cli("bytes", "next", "--model", M, "--prefix", "Hello wor", "--top", "3", "--format", "json")
    assert r.code == 0, r.err
    recs = json.loads(r.out)
    assert len(recs) == 3
    probs = [x["prob"] for x in recs]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9
    assert all(x["char"] == chr(x["byte"]) for x in recs if 32 <= x["byte"] < 127)


def test_complete_three_ways(cli):
    r = cli("bytes", "complete", "--model", M, "--prefix", "def hel", "--max-bytes", "4", "--suffix", "lo")
    assert r.code == 0, r.err
    rec = json.loads(r.out)[0]
    assert {"exact", "naive", "healing", "exact_suffix_logprob", "naive_suffix_logprob"} <= set(rec)
    assert len(rec["exact"].encode()) <= 4
    assert rec["exact_suffix_logprob"] <= 0


def test_bpb_and_ensemble(cli, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("Tokenizers split text into pieces. Bytes do not care.", encoding="utf-8")
    r = cli("bytes", "bpb", "--model", M, "--corpus", str(f), "--max-bytes", "24", "--format", "json")
    assert r.code == 0, r.err
    rec = json.loads(r.out)[0]
    assert rec["bytes"] == 24 and rec["exact_bits_per_byte"] <= rec["token_bits_per_byte"] + 1e-9
    r = cli("bytes", "ensemble", "--model", M, "--model", "random:llama3", "--corpus", str(f), "--max-bytes", "12",
            "--format", "json")
    assert r.code == 0, r.err
    rec = json.loads(r.out)[0]
    a, b, mix = rec[f"{M}_bits_per_byte"], rec["random:llama3_bits_per_byte"], rec["mixture_bits_per_byte"]
    assert mix <= max(a, b) + 1e-9  # a mixture is never worse than its worst member (per byte, log of a mean)


def test_usage_errors(cli):
    r = cli("bytes", "next", "--model", "nosuch-model", "--prefix", "x")
    assert r.code == 1 and "nosuch-model" in r.err and "Traceback" not in r.err  # InputError, one line
    r = cli("bytes", "ensemble", "--model", M, "--corpus", "x")
    assert r.code == 2
